// NT-Xent against a direct computation, kNN on hand-checkable points, the learning-rate
// schedule, LARS' layer-wise step and the weight-decay exclusions.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <cmath>

#include "core/eval/knn.h"
#include "core/methods/losses.h"
#include "core/model/optim.h"

using namespace studio;

namespace {

// Textbook NT-Xent in double precision with loops.
double directNtXent(const torch::Tensor& z_in, double t) {
  const auto z = z_in.to(torch::kFloat64);
  const int64_t m = z.size(0), n = m / 2;
  std::vector<std::vector<double>> s(m, std::vector<double>(m));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < m; ++j) {
      double dot = 0, ni = 0, nj = 0;
      for (int64_t d = 0; d < z.size(1); ++d) {
        const double a = z[i][d].item<double>(), b = z[j][d].item<double>();
        dot += a * b;
        ni += a * a;
        nj += b * b;
      }
      s[i][j] = dot / std::sqrt(ni * nj);
    }
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t pos = (i + n) % m;
    double denom = 0;
    for (int64_t k = 0; k < m; ++k)
      if (k != i) denom += std::exp(s[i][k] / t);
    total += -std::log(std::exp(s[i][pos] / t) / denom);
  }
  return total / m;
}

}  // namespace

class TestLosses : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void ntXentMatchesDirect_data() {
    QTest::addColumn<int>("pairs");
    QTest::addColumn<int>("dim");
    QTest::addColumn<double>("temperature");
    QTest::newRow("3 pairs, T=0.5") << 3 << 4 << 0.5;
    QTest::newRow("2 pairs, T=0.1") << 2 << 3 << 0.1;
    QTest::newRow("5 pairs, T=1") << 5 << 8 << 1.0;
  }
  void ntXentMatchesDirect() {
    QFETCH(int, pairs);
    QFETCH(int, dim);
    QFETCH(double, temperature);
    torch::manual_seed(pairs * 100 + dim);
    const auto z = torch::randn({2 * pairs, dim});
    const double got = ntXentLoss(z, temperature).loss.item<double>();
    const double want = directNtXent(z, temperature);
    QVERIFY2(std::abs(got - want) < 1e-5 * std::max(1.0, want), qPrintable(QString("%1 vs %2").arg(got).arg(want)));
  }

  void ntXentPerfectPairs() {
    // Pairs identical and pairs mutually orthogonal: the loss is log(1 + (2N-2) e^{-1/T}).
    const auto e = torch::eye(4);
    const auto z = torch::cat({e, e});
    const auto r = ntXentLoss(z, 0.1);
    QVERIFY(std::abs(r.loss.item<double>() - std::log(1 + 6 * std::exp(-10.0))) < 1e-5);
    QCOMPARE(r.pos_accuracy.item<float>(), 1.f);
    // Swapping the two halves is the same problem.
    torch::manual_seed(1);
    const auto a = torch::randn({6, 5});
    const auto swapped = torch::cat({a.slice(0, 3), a.slice(0, 0, 3)});
    QVERIFY(std::abs(ntXentLoss(a, 0.5).loss.item<double>() - ntXentLoss(swapped, 0.5).loss.item<double>()) < 1e-6);
  }

  void ntXentGradientFlows() {
    torch::manual_seed(2);
    auto z = torch::randn({8, 6}, torch::requires_grad());
    ntXentLoss(z, 0.3).loss.backward();
    QVERIFY(z.grad().defined() && z.grad().isfinite().all().item<bool>() && z.grad().abs().sum().item<float>() > 0);
  }

  void knnWeightedVote() {
    // Bank on the unit circle: class 0 near angle 0, class 1 near angle pi/2.
    auto at = [](double a) { return torch::tensor({static_cast<float>(std::cos(a)), static_cast<float>(std::sin(a))}); };
    const auto bank = torch::stack({at(0.0), at(0.1), at(0.2), at(1.5), at(1.6)});
    const auto labels = torch::tensor({0, 0, 0, 1, 1}, torch::kLong);
    const auto queries = torch::stack({at(0.05), at(1.55), at(1.2)});
    KnnOptions o;
    o.k = 1;
    QVERIFY(torch::equal(knnPredict(bank, labels, queries, 2, o), torch::tensor({0, 1, 1}, torch::kLong)));
    // k=5 unweighted-ish (high T) majority is class 0; low T weights the close class-1 points.
    o.k = 5;
    o.temperature = 100.0;
    QCOMPARE(knnPredict(bank, labels, queries, 2, o)[2].item<int64_t>(), int64_t(0));
    o.temperature = 0.05;
    QCOMPARE(knnPredict(bank, labels, queries, 2, o)[2].item<int64_t>(), int64_t(1));
    // Chunking does not change the answer.
    o.chunk = 1;
    QCOMPARE(knnAccuracy(bank, labels, queries, torch::tensor({0, 1, 1}, torch::kLong), 2, o), 1.0);
  }

  void rawPixelFeaturesAreUnitNorm() {
    const auto images = torch::randint(1, 256, {5, 1, 6, 6}, torch::kUInt8);
    const auto f = rawPixelFeatures(images);
    QCOMPARE(f.sizes().vec(), (std::vector<int64_t>{5, 36}));
    QVERIFY((f.norm(2, 1) - 1).abs().max().item<float>() < 1e-5);
  }

  void learningRateSchedule() {
    torch::nn::Linear model(2, 2);
    OptimConfig c;
    c.lr = 1.0;
    c.warmup_epochs = 1;
    c.min_lr_ratio = 0.1;
    TrainingOptimizer opt(c, *model, /*steps_per_epoch=*/10, /*total_steps=*/110);
    QCOMPARE(opt.lrAt(0), 0.1);
    QCOMPARE(opt.lrAt(9), 1.0);
    QCOMPARE(opt.lrAt(10), 1.0);
    QVERIFY(std::abs(opt.lrAt(60) - 0.55) < 1e-12);   // half-way through the cosine
    QVERIFY(std::abs(opt.lrAt(110) - 0.1) < 1e-12);   // ends at lr * min_lr_ratio
  }

  void larsScalesEachLayer() {
    torch::nn::Linear model(torch::nn::LinearOptions(3, 2).bias(true));
    {
      torch::NoGradGuard g;
      model->weight.copy_(torch::tensor({{1.f, 2.f, 2.f}, {0.f, 0.f, 0.f}}));  // norm 3
      model->bias.copy_(torch::tensor({1.f, 1.f}));
    }
    const auto w0 = model->weight.clone(), b0 = model->bias.clone();
    model->weight.mutable_grad() = torch::tensor({{0.f, 4.f, 0.f}, {3.f, 0.f, 0.f}});  // norm 5
    model->bias.mutable_grad() = torch::tensor({0.5f, 0.5f});
    OptimConfig c;
    c.name = OptimizerKind::Lars;
    c.lr = 0.1;
    c.weight_decay = 0.0;
    c.momentum = 0.9;
    c.lars_eta = 0.02;
    c.warmup_epochs = 0;
    TrainingOptimizer opt(c, *model, 1, 1000);
    opt.step(0);
    // Weight: lr * eta * |w| / |g| * g = 0.1 * 0.02 * 3/5 * g.
    const auto expected_w = w0 - 0.1 * 0.02 * (3.0 / 5.0) * torch::tensor({{0.f, 4.f, 0.f}, {3.f, 0.f, 0.f}});
    QVERIFY((model->weight - expected_w).abs().max().item<float>() < 1e-7);
    // Bias (1-D): excluded from the adaptation, plain SGD.
    QVERIFY((model->bias - (b0 - 0.1 * 0.5)).abs().max().item<float>() < 1e-7);
  }

  void noWeightDecayOnNormsAndBiases() {
    torch::nn::Sequential model(torch::nn::Linear(4, 3), torch::nn::BatchNorm1d(3));
    for (auto& p : model->parameters()) {
      torch::NoGradGuard g;
      p.fill_(1.0);
      p.mutable_grad() = torch::zeros_like(p);
    }
    OptimConfig c;
    c.name = OptimizerKind::AdamW;
    c.lr = 0.1;
    c.weight_decay = 0.5;
    c.warmup_epochs = 0;
    TrainingOptimizer opt(c, *model, 1, 100);
    opt.step(0);
    for (const auto& item : model->named_parameters()) {
      const float v = item.value().flatten()[0].item<float>();
      if (item.value().dim() > 1)
        QVERIFY2(std::abs(v - (1.f - 0.1f * 0.5f)) < 1e-6, item.key().c_str());  // decayed
      else
        QVERIFY2(v == 1.f, item.key().c_str());  // untouched
    }
  }
};

QTEST_MAIN(TestLosses)
#include "test_losses.moc"
