// PCA and t-SNE: the affinities and gradients against direct computations, the optimiser on
// well-separated clusters, warm starts, callbacks, bad input, determinism, and a timing figure.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <chrono>
#include <complex>
#include <cmath>
#include <limits>
#include <map>
#include <utility>
#include <vector>

#include "core/eval/embedding_map.h"
#include "core/eval/grid_convolution.h"
#include "core/eval/neighbour_graph.h"
#include "core/eval/pca.h"
#include "core/eval/tsne.h"
#include "core/eval/tsne_fft.h"
#include "core/eval/tsne_tensor.h"
#include "tests/test_support.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;

namespace {

// `count` Gaussian clusters of `per` points in `dim` dimensions, unit noise, centres on
// scaled basis vectors so that every two centres are `spacing` apart. Labels are int64.
std::pair<torch::Tensor, torch::Tensor> gaussianClusters(int64_t count, int64_t per, int64_t dim, double spacing,
                                                         uint64_t seed) {
  torch::manual_seed(seed);
  auto x = torch::randn({count * per, dim});
  auto labels = torch::arange(count, torch::kLong).repeat_interleave(per);
  for (int64_t c = 0; c < count; ++c) x.slice(0, c * per, (c + 1) * per).select(1, c).add_(spacing / std::sqrt(2.0));
  return {x, labels};
}

std::vector<std::vector<double>> denseP(const Affinities& p) {
  std::vector<std::vector<double>> dense(p.n, std::vector<double>(p.n, 0.0));
  for (int64_t i = 0; i < p.n; ++i)
    for (int64_t e = p.row_offsets[i]; e < p.row_offsets[i + 1]; ++e) dense[i][p.columns[e]] = p.values[e];
  return dense;
}

// The textbook gradient 4 * sum_j (exaggeration * P_ij - q_ij) w_ij (y_i - y_j), all pairs.
torch::Tensor directGradient(const Affinities& p, const torch::Tensor& y_in, double exaggeration) {
  const auto y = y_in.to(torch::kFloat64).contiguous();
  const auto a = y.accessor<double, 2>();
  const auto dense = denseP(p);
  const int64_t n = p.n;
  std::vector<std::vector<double>> w(n, std::vector<double>(n, 0.0));
  double z = 0;
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double dx = a[i][0] - a[j][0], dy = a[i][1] - a[j][1];
      w[i][j] = 1.0 / (1.0 + dx * dx + dy * dy);
      z += w[i][j];
    }
  auto grad = torch::zeros({n, 2}, torch::kFloat64);
  auto g = grad.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (i == j) continue;
      const double f = 4.0 * (exaggeration * dense[i][j] - w[i][j] / z) * w[i][j];
      g[i][0] += f * (a[i][0] - a[j][0]);
      g[i][1] += f * (a[i][1] - a[j][1]);
    }
  return grad;
}

double relativeError(const torch::Tensor& got, const torch::Tensor& want) {
  return ((got - want).norm() / want.norm()).item<double>();
}

// Leave-one-out majority vote of the k nearest points in the layout.
double layoutKnnAccuracy(const torch::Tensor& layout, const torch::Tensor& labels, int64_t k, int64_t classes) {
  const auto y = layout.to(torch::kFloat64);
  auto d = torch::cdist(y, y);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  const auto nearest = std::get<1>(d.topk(k, 1, /*largest=*/false));
  const auto votes = labels.index_select(0, nearest.reshape(-1)).view({-1, k});
  const auto counts = torch::zeros({y.size(0), classes}, torch::kLong).scatter_add_(1, votes, torch::ones_like(votes));
  return (counts.argmax(1) == labels).to(torch::kFloat64).mean().item<double>();
}

TsneOptions quickOptions() {
  TsneOptions o;
  o.threads = 2;
  return o;
}

// Brute-force k nearest neighbours (ties by index), the reference for the fast searches.
torch::Tensor bruteNeighbours(const torch::Tensor& x, int64_t k) {
  const auto points = x.to(torch::kFloat64);
  auto d = torch::cdist(points, points);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  return std::get<1>(d.topk(k, 1, /*largest=*/false, /*sorted=*/true));
}

// A layout like a t-SNE one midway: clumps of different sizes spread over ~40 units.
torch::Tensor clumpedLayout(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  const auto clump = torch::randint(0, 8, {n}, torch::kLong);
  const auto centres = torch::randn({8, 2}, torch::kFloat64) * 15;
  const auto spread = torch::rand({8, 1}, torch::kFloat64) * 3 + 0.5;
  return centres.index_select(0, clump) + torch::randn({n, 2}, torch::kFloat64) * spread.index_select(0, clump);
}

}  // namespace

class TestTsne : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void embeddingMapLayoutsAndNeighbours() {
    // Three tight clusters of normalised 16-d features: the map keeps them apart, a warm
    // start keeps the layout where it was, and neighbours come from the right cluster.
    const int64_t per = 40, dims = 16;
    torch::manual_seed(3);
    auto centres = torch::eye(dims).slice(0, 0, 3) * 4.0;
    auto x = torch::cat({centres[0] + 0.1 * torch::randn({per, dims}), centres[1] + 0.1 * torch::randn({per, dims}),
                         centres[2] + 0.1 * torch::randn({per, dims})});
    x = x / x.norm(2, 1, true);
    EmbeddingSnapshot s;
    s.rows = 3 * per;
    s.dims = dims;
    s.features.assign(x.data_ptr<float>(), x.data_ptr<float>() + x.numel());
    for (int64_t i = 0; i < s.rows; ++i) s.images.labels.push_back(i / per);

    MapLayoutOptions o;
    o.perplexity = 10;
    o.iterations = 300;
    o.threads = 2;
    int callbacks = 0;
    const MapLayout cold = computeMapLayout(s, o, {}, [&](int64_t, const std::vector<float>& xy) {
      ++callbacks;
      return xy.size() == size_t(2 * s.rows);
    });
    QCOMPARE(cold.xy.size(), size_t(2 * s.rows));
    QVERIFY(callbacks >= 300 / 25 - 1);
    QVERIFY(cold.kl_divergence >= 0);
    QVERIFY2(cold.neighbour_preservation > 0.5, qPrintable(QString::number(cold.neighbour_preservation)));

    // Warm start from the cold layout: points stay where they were relative to the others.
    // t-SNE layouts keep expanding after early exaggeration and the view rescales to fit,
    // so compare the layouts centred and scaled to unit RMS radius.
    const MapLayout warm = computeMapLayout(s, o, cold.xy);
    QCOMPARE(warm.iterations, o.warm_iterations);
    auto normalised = [](const std::vector<float>& xy) {
      auto t = torch::tensor(xy).reshape({-1, 2}).to(torch::kFloat64);
      t = t - t.mean(0, true);
      return t / t.pow(2).sum(1).mean().sqrt();
    };
    const double moved = (normalised(warm.xy) - normalised(cold.xy)).pow(2).sum(1).mean().sqrt().item<double>();
    QVERIFY2(moved < 0.5, qPrintable(QString("moved %1 (RMS, layouts scaled to unit RMS radius)").arg(moved)));

    // A callback returning false stops early.
    const MapLayout stopped = computeMapLayout(s, o, {}, [](int64_t, const std::vector<float>&) { return false; });
    QVERIFY(stopped.stopped);

    o.method = MapLayoutOptions::Method::Pca;
    const MapLayout pca_layout = computeMapLayout(s, o);
    QCOMPARE(pca_layout.xy.size(), size_t(2 * s.rows));
    QVERIFY(pca_layout.neighbour_preservation > 0);

    const auto nn = nearestInMap(s, 5, 10);
    QCOMPARE(nn.size(), size_t(10));
    for (const auto& [i, sim] : nn) {
      QVERIFY(i != 5);
      QCOMPARE(i / per, int64_t(0));
      QVERIFY(sim > 0.8f);
    }
    QVERIFY(nn.front().second >= nn.back().second);
    test::expectError([&] { computeMapLayout(s, o, std::vector<float>(6, 0.f)); });
    test::expectError([&] { nearestInMap(s, s.rows, 3); });
  }

  void pcaFindsLineDirection_data() {
    QTest::addColumn<int>("rows");
    QTest::addColumn<int>("dim");
    QTest::addColumn<int>("k");
    QTest::newRow("tall: X^T X path") << 200 << 5 << 3;
    QTest::newRow("wide: SVD path") << 4 << 10 << 2;
    QTest::newRow("wide, k > N") << 3 << 6 << 5;
  }
  void pcaFindsLineDirection() {
    QFETCH(int, rows);
    QFETCH(int, dim);
    QFETCH(int, k);
    torch::manual_seed(3);
    const auto direction = torch::nn::functional::normalize(torch::randn({dim}),
                                                            torch::nn::functional::NormalizeFuncOptions().dim(0));
    const auto t = torch::randn({rows, 1}) * 5;
    const auto x = t * direction + 1e-3 * torch::randn({rows, dim}) + 7.0;
    const auto r = pca(x, k);
    QCOMPARE(r.components.sizes().vec(), (std::vector<int64_t>{k, dim}));
    QCOMPARE(r.projected.sizes().vec(), (std::vector<int64_t>{rows, k}));
    QVERIFY(r.explained_variance_ratio[0].item<double>() > 0.99);
    QVERIFY(r.explained_variance_ratio.sum().item<double>() <= 1.0 + 1e-5);
    const double cosine = torch::dot(r.components[0], direction).item<double>();
    QVERIFY2(std::abs(cosine) > 0.999, qPrintable(QString("cos = %1").arg(cosine)));
    QVERIFY(torch::allclose(r.components.matmul(r.components.t()), torch::eye(k), 1e-5, 1e-5));
    QVERIFY(torch::allclose(r.projected, (x - r.mean).matmul(r.components.t()), 1e-5, 1e-5));
    QVERIFY(torch::allclose(r.mean, x.mean(0), 1e-5, 1e-5));
    // Deterministic signs: each component's largest-magnitude entry is positive.
    const auto largest = r.components.abs().argmax(1, true);
    QVERIFY((r.components.gather(1, largest) > 0).all().item<bool>());
  }

  void pcaRejectsBadInput() {
    const auto x = torch::randn({10, 5});
    QVERIFY(contains(expectError([&] { pca(x, 0); }), "k = 0"));
    QVERIFY(contains(expectError([&] { pca(x, 6); }), "D = 5"));
    QVERIFY(contains(expectError([&] { pca(torch::randn({1, 5}), 1); }), "N = 1"));
    QVERIFY(contains(expectError([&] { pca(torch::randn({10}), 1); }), "2-D"));
  }

  void conditionalRowHitsPerplexity_data() {
    QTest::addColumn<double>("perplexity");
    QTest::addColumn<double>("scale");
    QTest::newRow("perplexity 5") << 5.0 << 10.0;
    QTest::newRow("perplexity 30") << 30.0 << 10.0;
    QTest::newRow("perplexity 30, far points") << 30.0 << 1e5;
    QTest::newRow("perplexity 5, close points") << 5.0 << 1e-4;
  }
  void conditionalRowHitsPerplexity() {
    QFETCH(double, perplexity);
    QFETCH(double, scale);
    torch::manual_seed(11);
    const auto d = (torch::rand({90}, torch::kFloat64) * scale).contiguous();
    const std::vector<double> distances(d.data_ptr<double>(), d.data_ptr<double>() + 90);
    double entropy = -1;
    const auto p = conditionalRow(distances, perplexity, &entropy);
    QCOMPARE(p.size(), distances.size());
    double sum = 0, measured = 0;
    for (const double v : p) {
      QVERIFY(v >= 0);
      sum += v;
      if (v > 0) measured -= v * std::log(v);
    }
    QVERIFY(std::abs(sum - 1.0) < 1e-12);
    QVERIFY2(std::abs(entropy - std::log(perplexity)) < 1e-4, qPrintable(QString("H = %1").arg(entropy)));
    QVERIFY2(std::abs(measured - std::log(perplexity)) < 1e-4, qPrintable(QString("H = %1").arg(measured)));
  }

  void affinitiesAreSymmetricAndNormalised() {
    torch::manual_seed(5);
    const auto x = torch::randn({200, 8});
    const double perplexity = 10;
    const auto p = computeAffinities(x, perplexity, 2);
    QCOMPARE(p.n, int64_t{200});
    QCOMPARE(p.row_offsets.size(), size_t{201});
    std::map<std::pair<int64_t, int64_t>, double> entries;
    double sum = 0;
    for (int64_t i = 0; i < p.n; ++i) {
      QVERIFY(p.row_offsets[i + 1] - p.row_offsets[i] >= 30);  // at least its own k = 3 * perplexity
      for (int64_t e = p.row_offsets[i]; e < p.row_offsets[i + 1]; ++e) {
        QVERIFY(p.columns[e] != i);
        if (e > p.row_offsets[i]) QVERIFY(p.columns[e] > p.columns[e - 1]);  // sorted, no duplicates
        QVERIFY(p.values[e] > 0);
        entries[{i, p.columns[e]}] = p.values[e];
        sum += p.values[e];
      }
    }
    QVERIFY(std::abs(sum - 1.0) < 1e-12);
    for (const auto& [key, value] : entries) {
      const auto mirror = entries.find({key.second, key.first});
      QVERIFY(mirror != entries.end());
      QCOMPARE(mirror->second, value);
    }
  }

  void exactGradientMatchesDirectAndNumerical() {
    torch::manual_seed(7);
    const auto x = torch::randn({12, 5});
    const auto p = computeAffinities(x, 3.0, 1);
    const auto y = torch::randn({12, 2}, torch::kFloat64) * 2;

    double kl = -1;
    const auto grad = exactGradient(p, y, 4.0, &kl);
    const double direct_error = relativeError(grad, directGradient(p, y, 4.0));
    QVERIFY2(direct_error < 1e-4, qPrintable(QString("vs direct: %1").arg(direct_error)));
    QVERIFY(std::abs(kl - klDivergence(p, y)) < 1e-12);

    const auto plain = exactGradient(p, y, 1.0, nullptr);
    auto numerical = torch::zeros({12, 2}, torch::kFloat64);
    const double h = 1e-5;
    for (int64_t i = 0; i < 12; ++i)
      for (int64_t c = 0; c < 2; ++c) {
        auto up = y.clone(), down = y.clone();
        up[i][c].add_(h);
        down[i][c].sub_(h);
        numerical[i][c] = (klDivergence(p, up) - klDivergence(p, down)) / (2 * h);
      }
    const double numerical_error = relativeError(plain, numerical);
    QVERIFY2(numerical_error < 1e-4, qPrintable(QString("vs finite differences: %1").arg(numerical_error)));
  }

  void barnesHutApproximatesExact() {
    const auto [x, labels] = gaussianClusters(4, 100, 10, 10, 9);
    const auto p = computeAffinities(x, 20.0, 2);
    torch::manual_seed(9);
    // A spread-out layout with clumps, like a t-SNE layout midway.
    const auto y = torch::randn({400, 2}, torch::kFloat64) * 3 + labels.to(torch::kFloat64).unsqueeze(1) * 8;
    const auto exact = exactGradient(p, y, 1.0, nullptr);
    const double theta0 = relativeError(barnesHutGradient(p, y, 1.0, 0.0, 2), exact);
    QVERIFY2(theta0 < 1e-6, qPrintable(QString("theta 0: %1").arg(theta0)));
    const double theta05 = relativeError(barnesHutGradient(p, y, 1.0, 0.5, 2), exact);
    qInfo("Barnes-Hut gradient, theta 0.5: relative error %.4f", theta05);
    QVERIFY2(theta05 < 0.05, qPrintable(QString("theta 0.5: %1").arg(theta05)));
    const double early = relativeError(barnesHutGradient(p, y, 12.0, 0.5, 2), exactGradient(p, y, 12.0, nullptr));
    QVERIFY2(early < 0.05, qPrintable(QString("theta 0.5, exaggerated: %1").arg(early)));
  }

  void separatesGaussianClusters() {
    const auto [x, labels] = gaussianClusters(5, 200, 50, 20, 1);
    const auto result = runTsne(x, quickOptions());
    QCOMPARE(result.layout.sizes().vec(), (std::vector<int64_t>{1000, 2}));
    QCOMPARE(result.layout.scalar_type(), torch::kFloat32);
    QVERIFY(!result.stopped);
    QCOMPARE(result.iterations_done, int64_t{750});
    const double preservation = neighbourPreservation(x, result.layout, 10);
    const double accuracy = layoutKnnAccuracy(result.layout, labels, 5, 5);
    qInfo("5 clusters x 200 points in 50-D: 10-NN preservation %.3f, 5-NN label accuracy %.4f, KL %.3f",
          preservation, accuracy, result.kl_divergence);
    // Measured 0.286 (seed 1); openTSNE 1.0.4 (exact neighbours, BH or FFT) gets 0.28-0.29 on
    // data drawn the same way. Within a cluster the 50-D noise is isotropic, so which ten of
    // its 199 cluster mates are nearest is weakly determined and cannot all be kept in 2-D.
    // Far above chance (10 / 199 = 0.05 knowing the cluster); asserted with margin.
    QVERIFY2(preservation > 0.25, qPrintable(QString("preservation %1").arg(preservation)));
    QVERIFY2(accuracy > 0.99, qPrintable(QString("accuracy %1").arg(accuracy)));
  }

  void preservesNeighboursOfPlanarClusters() {
    // The same clusters with 2-D structure inside (each a Gaussian disc in its own random
    // plane of the 50-D space, plus faint noise): here the neighbours are well defined and a
    // good 2-D layout keeps most of them.
    auto [x, labels] = gaussianClusters(5, 200, 50, 20, 13);
    torch::manual_seed(13);
    for (int64_t c = 0; c < 5; ++c) {
      const auto basis = std::get<0>(torch::linalg_qr(torch::randn({50, 2})));  // [50, 2] orthonormal
      auto block = x.slice(0, c * 200, (c + 1) * 200);
      const auto centre = block.mean(0);
      block.copy_(centre + torch::randn({200, 2}).matmul(basis.t()) * 3 + 0.01 * torch::randn({200, 50}));
    }
    const auto result = runTsne(x, quickOptions());
    const double preservation = neighbourPreservation(x, result.layout, 10);
    qInfo("5 planar clusters x 200 points in 50-D: 10-NN preservation %.3f", preservation);
    // Measured 0.848 (seed 13); asserted with margin.
    QVERIFY2(preservation > 0.7, qPrintable(QString("preservation %1").arg(preservation)));
    QVERIFY(layoutKnnAccuracy(result.layout, labels, 5, 5) > 0.99);
  }

  void barnesHutKlCloseToExactMode() {
    const auto [x, labels] = gaussianClusters(5, 120, 50, 20, 2);
    auto options = quickOptions();
    options.method = TsneOptions::Method::Exact;
    const auto exact = runTsne(x, options);
    options.method = TsneOptions::Method::BarnesHut;
    const auto bh = runTsne(x, options);
    qInfo("N = 600: KL exact mode %.4f, Barnes-Hut mode %.4f", exact.kl_divergence, bh.kl_divergence);
    QVERIFY(exact.kl_divergence > 0);
    QVERIFY(std::abs(bh.kl_divergence - exact.kl_divergence) < 0.1 * exact.kl_divergence);
    QVERIFY(layoutKnnAccuracy(exact.layout, labels, 5, 5) > 0.99);
  }

  void warmStartKeepsLayout() {
    const auto [x, labels] = gaussianClusters(4, 100, 20, 20, 4);
    const auto first = runTsne(x, quickOptions());
    auto options = quickOptions();
    options.exaggeration_iterations = 0;
    options.iterations = 50;
    const auto again = runTsne(x, options, first.layout);
    const double spread = (first.layout - first.layout.mean(0)).norm(2, 1).mean().item<double>();
    const double moved = (again.layout - first.layout).norm(2, 1).mean().item<double>();
    qInfo("warm start, 50 iterations: mean displacement %.3f against mean radius %.3f", moved, spread);
    QVERIFY2(moved < 0.05 * spread, qPrintable(QString("moved %1 of spread %2").arg(moved).arg(spread)));
    QVERIFY(layoutKnnAccuracy(again.layout, labels, 5, 4) > 0.99);
  }

  void callbackCadenceAndStop() {
    const auto [x, labels] = gaussianClusters(4, 50, 10, 10, 6);
    auto options = quickOptions();
    options.iterations = 100;
    options.exaggeration_iterations = 40;
    options.callback_every = 10;
    std::vector<int64_t> seen;
    const auto all = runTsne(x, options, {}, [&](const TsneProgress& progress) {
      seen.push_back(progress.iteration);
      if (progress.kl_divergence < 0 || progress.layout.size(0) != 200) return false;
      return true;
    });
    QCOMPARE(seen, (std::vector<int64_t>{10, 20, 30, 40, 50, 60, 70, 80, 90, 100}));
    QVERIFY(!all.stopped);
    QCOMPARE(all.iterations_done, int64_t{100});

    seen.clear();
    const auto stopped = runTsne(x, options, {}, [&](const TsneProgress& progress) {
      seen.push_back(progress.iteration);
      return progress.iteration < 30;
    });
    QCOMPARE(seen, (std::vector<int64_t>{10, 20, 30}));
    QVERIFY(stopped.stopped);
    QCOMPARE(stopped.iterations_done, int64_t{30});
    QCOMPARE(stopped.layout.sizes().vec(), (std::vector<int64_t>{200, 2}));
    QVERIFY(stopped.kl_divergence > 0);
  }

  void rejectsBadInput() {
    const auto x = torch::randn({50, 4});
    TsneOptions options;
    const auto too_large = expectError([&] { runTsne(x, options); });
    QVERIFY2(contains(too_large, "perplexity 30") && contains(too_large, "N = 50") && contains(too_large, "16.6667"),
             too_large.c_str());
    QVERIFY(contains(expectError([&] { computeAffinities(x, 20, 1); }), "perplexity 20"));

    options.perplexity = 5;
    auto with_nan = x.clone();
    with_nan[3][1] = std::numeric_limits<float>::quiet_NaN();
    const auto nan = expectError([&] { runTsne(with_nan, options); });
    QVERIFY2(contains(nan, "NaN") && contains(nan, "row 3") && contains(nan, "column 1"), nan.c_str());

    const auto flat = expectError([&] { runTsne(torch::randn({10}), options); });
    QVERIFY2(contains(flat, "2-D") && contains(flat, "[10]"), flat.c_str());

    const auto shape = expectError([&] { runTsne(x, options, torch::zeros({50, 3})); });
    QVERIFY2(contains(shape, "[50, 2]") && contains(shape, "[50, 3]"), shape.c_str());

    QVERIFY(contains(expectError([&] { runTsne(torch::randn({3, 4}), options); }), "N = 3"));
    QVERIFY(contains(expectError([&] { neighbourPreservation(x, torch::zeros({50, 2}), 50); }), "k = 50"));
  }

  void fftMatchesDirectTransform() {
    for (const int64_t n : {1, 2, 3, 4, 5, 7, 8, 12, 30, 42, 60, 98, 300, 768}) {
      torch::manual_seed(n);
      const auto values = torch::randn({n, 2}, torch::kFloat64);
      std::vector<std::complex<double>> data(static_cast<size_t>(n));
      for (int64_t t = 0; t < n; ++t) data[t] = {values[t][0].item<double>(), values[t][1].item<double>()};
      for (const int sign : {-1, 1}) {
        auto fast = data;
        fftInPlace(fast, sign);
        double error = 0, scale = 0;
        for (int64_t k = 0; k < n; ++k) {
          std::complex<double> direct = 0;
          for (int64_t t = 0; t < n; ++t)
            direct += data[t] * std::polar(1.0, sign * 2.0 * M_PI * static_cast<double>((t * k) % n) / n);
          error = std::max(error, std::abs(fast[k] - direct));
          scale = std::max(scale, std::abs(direct));
        }
        QVERIFY2(error < 1e-12 * std::max(1.0, scale) * n, qPrintable(QString("n = %1: error %2").arg(n).arg(error)));
      }
    }
    std::vector<std::complex<double>> bad(11);
    QVERIFY(contains(expectError([&] { fftInPlace(bad, -1); }), "prime factor"));
  }

  void gridConvolutionMatchesDirectSum() {
    for (const int64_t g : {1, 6, 15, 21}) {
      const double spacing = 0.37;
      torch::manual_seed(g);
      const auto in = torch::randn({4, g, g}, torch::kFloat64).contiguous();
      std::vector<double> planes(in.data_ptr<double>(), in.data_ptr<double>() + in.numel());
      GridConvolution conv;
      conv.setKernel(g, spacing, 2);
      conv.apply(planes.data(), 4, 2);
      const auto a = in.accessor<double, 3>();
      double error = 0;
      for (int64_t t = 0; t < 4; ++t)
        for (int64_t x = 0; x < g; ++x)
          for (int64_t y = 0; y < g; ++y) {
            double direct = 0;
            for (int64_t u = 0; u < g; ++u)
              for (int64_t v = 0; v < g; ++v) {
                const double d2 = spacing * spacing * double((x - u) * (x - u) + (y - v) * (y - v));
                direct += a[t][u][v] / ((1 + d2) * (1 + d2));
              }
            error = std::max(error, std::abs(planes[(t * g + x) * g + y] - direct));
          }
      QVERIFY2(error < 1e-11, qPrintable(QString("g = %1: error %2").arg(g).arg(error)));
    }
    GridConvolution conv;
    std::vector<double> one(3);
    QVERIFY(contains(expectError([&] { conv.apply(one.data(), 2, 1); }), "setKernel"));
    conv.setKernel(1, 1.0, 1);
    QVERIFY(contains(expectError([&] { conv.apply(one.data(), 3, 1); }), "even"));
  }

  void lagrangeWeightsInterpolateQuadratics() {
    // Three nodes reproduce any quadratic exactly, and the weights sum to one everywhere.
    for (const double f : {0.0, 0.1, 0.37, 0.5, 0.9, 1.0}) {
      double w[3];
      lagrangeWeights(f, 3, w);
      QVERIFY(std::abs(w[0] + w[1] + w[2] - 1.0) < 1e-12);
      const auto q = [](double t) { return 2.0 - 3.0 * t + 5.0 * t * t; };
      const double interpolated = w[0] * q(1.0 / 6) + w[1] * q(0.5) + w[2] * q(5.0 / 6);
      QVERIFY2(std::abs(interpolated - q(f)) < 1e-12, qPrintable(QString("f = %1").arg(f)));
    }
    const auto grid = interpolationGrid(-10, 30, 3, 50, 1.0);
    QCOMPARE(grid.boxes, int64_t{50});
    QCOMPARE(grid.nodesPerSide(), int64_t{150});
    QVERIFY(std::abs(grid.box_width - 0.8) < 1e-12);
    // More boxes as the layout grows (one per unit), rounded up to an FFT-friendly count.
    QCOMPARE(interpolationGrid(-60.5, 60, 3, 50, 1.0).boxes, int64_t{125});
    QCOMPARE(interpolationGrid(0, 1e6, 3, 50, 1.0).boxes, int64_t{1000});
  }

  void fftGradientApproximatesExact() {
    // FIt-SNE's accuracy at openTSNE's settings (3 nodes per box of about one unit) is a few
    // percent of the gradient on a layout of ~90 units; more nodes per box converge to exact.
    const auto [x, labels] = gaussianClusters(4, 150, 10, 10, 21);
    const auto p = computeAffinities(x, 20.0, 2);
    const auto y = clumpedLayout(600, 21);
    auto options = quickOptions();
    for (const double exaggeration : {1.0, 12.0}) {
      double exact_kl = -1, fft_kl = -1;
      const auto exact = exactGradient(p, y, exaggeration, &exact_kl);
      const auto fft = fftGradient(p, y, exaggeration, options, &fft_kl);
      const double error = relativeError(fft, exact);
      qInfo("FFT gradient (3 nodes per box), exaggeration %g: relative error %.2e, KL %.6f vs exact %.6f",
            exaggeration, error, fft_kl, exact_kl);
      QVERIFY2(error < 0.04, qPrintable(QString("relative error %1").arg(error)));
      QVERIFY(std::abs(fft_kl - exact_kl) < 2e-3 * exact_kl);
    }
    // The repulsion alone (exaggeration 0), as the number of nodes per box grows.
    double previous = 1;
    for (const int64_t nodes : {2, 3, 5, 7}) {
      options.interpolation_points = nodes;
      const double error = relativeError(fftGradient(p, y, 0.0, options), exactGradient(p, y, 0.0, nullptr));
      qInfo("repulsion with %lld nodes per box: relative error %.2e", static_cast<long long>(nodes), error);
      QVERIFY2(error < previous, qPrintable(QString("%1 nodes: %2 after %3").arg(nodes).arg(error).arg(previous)));
      previous = error;
    }
    QVERIFY2(previous < 1e-3, qPrintable(QString("7 nodes: %1").arg(previous)));
    // Collapsed layouts (the first iterations from a PCA start span 1e-4) still work.
    const auto tiny = clumpedLayout(600, 22) * 1e-5;
    QVERIFY(relativeError(fftGradient(p, tiny, 12.0, quickOptions()), exactGradient(p, tiny, 12.0, nullptr)) < 1e-3);
  }

  void tensorOpsMatchNative() {
    // The torch-ops implementation (what runs on CUDA) on the CPU device, against the native
    // loops: affinities, exact and FFT gradients, KL.
    const auto [x, labels] = gaussianClusters(3, 100, 8, 10, 23);
    const auto native = computeAffinities(x, 15.0, 2, TsneNeighbours::Exact);
    const auto tensor = tensorAffinities(x, 15.0, torch::kCPU);
    const auto moved = toTensorAffinities(native, torch::kCPU);
    QCOMPARE(tensor.rows.size(0), moved.rows.size(0));
    QVERIFY(torch::equal(tensor.rows, moved.rows));
    QVERIFY(torch::equal(tensor.columns, moved.columns));
    const double value_error = relativeError(tensor.values, moved.values);
    QVERIFY2(value_error < 1e-6, qPrintable(QString("affinities differ by %1").arg(value_error)));
    QVERIFY(std::abs(tensor.sum_p - 1.0) < 1e-12);

    const auto y = clumpedLayout(300, 23);
    double native_kl = -1, tensor_kl = -1;
    const auto exact = exactGradient(native, y, 4.0, &native_kl);
    const auto tensor_exact = tensorGradient(moved, y, 4.0, /*exact=*/true, quickOptions(), &tensor_kl);
    QVERIFY(relativeError(tensor_exact, exact) < 1e-10);
    QVERIFY(std::abs(tensor_kl - native_kl) < 1e-10);
    double native_fft_kl = -1, tensor_fft_kl = -1;
    const auto fft = fftGradient(native, y, 4.0, quickOptions(), &native_fft_kl);
    const auto tensor_fft = tensorGradient(moved, y, 4.0, /*exact=*/false, quickOptions(), &tensor_fft_kl);
    const double fft_error = relativeError(tensor_fft, fft);
    QVERIFY2(fft_error < 1e-9, qPrintable(QString("FFT gradients differ by %1").arg(fft_error)));
    QVERIFY(std::abs(tensor_fft_kl - native_fft_kl) < 1e-9);

    // Whole runs with the exact repulsion: the same quality either way.
    auto options = quickOptions();
    options.iterations = 500;
    options.method = TsneOptions::Method::Exact;
    options.neighbours = TsneNeighbours::Exact;
    const auto a = runTsne(x, options);
    options.tensor_ops = true;
    int callbacks = 0;
    const auto b = runTsne(x, options, {}, [&](const TsneProgress& progress) {
      ++callbacks;
      return progress.layout.device().is_cpu() && progress.kl_divergence > 0;
    });
    QCOMPARE(callbacks, 10);
    const double pa = neighbourPreservation(x, a.layout), pb = neighbourPreservation(x, b.layout);
    qInfo("N = 300, exact repulsion: native KL %.4f, 10-NN %.3f; tensor ops KL %.4f, 10-NN %.3f", a.kl_divergence, pa,
          b.kl_divergence, pb);
    // Compared by quality, not by trajectory: t-SNE is a chaotic optimisation, and the two
    // paths sum in different orders (and LibTorch picks its kernels by CPU), so after a few
    // hundred iterations the layouts sit in different local minima. Measured: KL 0.5846 vs
    // 0.6107 on an AVX2-only CPU, within 1% on an AVX-512 one. Runs of one implementation
    // from other seeds spread as much, so the bound is that of two good runs: KL within 10% of
    // each other, the neighbourhoods kept as well, and the clusters apart in both.
    QVERIFY2(std::abs(a.kl_divergence - b.kl_divergence) < 0.10 * std::min(a.kl_divergence, b.kl_divergence),
             qPrintable(QString("KL native %1, tensor ops %2").arg(a.kl_divergence).arg(b.kl_divergence)));
    QVERIFY(std::abs(pa - pb) < 0.05);
    QVERIFY(layoutKnnAccuracy(a.layout, labels, 5, 3) > 0.99);
    QVERIFY(layoutKnnAccuracy(b.layout, labels, 5, 3) > 0.99);
    // The FFT repulsion through a run of tensor ops (torch's CPU FFT is slow to plan, so a
    // short one on a small grid): the KL falls and the clusters come apart.
    options.method = TsneOptions::Method::Fft;
    options.iterations = 120;
    options.exaggeration_iterations = 60;
    options.min_interpolation_boxes = 10;
    options.callback_every = 30;
    std::vector<double> kls;
    const auto fft_run = runTsne(x, options, {}, [&](const TsneProgress& progress) {
      kls.push_back(progress.kl_divergence);
      return true;
    });
    QCOMPARE(kls.size(), size_t(4));
    QVERIFY2(kls.back() < kls.front(), qPrintable(QString("KL %1 -> %2").arg(kls.front()).arg(kls.back())));
    QVERIFY(torch::isfinite(fft_run.layout).all().item<bool>());
    QVERIFY(layoutKnnAccuracy(fft_run.layout, labels, 5, 3) > 0.95);
    options.method = TsneOptions::Method::BarnesHut;
    QVERIFY(contains(expectError([&] { runTsne(x, options); }), "CPU only"));
  }

  void tensorOpsOnCuda() {
    if (!torch::cuda::is_available())
      QSKIP("no CUDA device here: the tensor-ops t-SNE is compared with the native one on the CPU device "
            "(tensorOpsMatchNative); its GPU time (goal: 70,000 points in under 5 s on an H100) cannot be measured");
    // 70,000 x 128 in 10 clusters with openTSNE's schedule on the GPU: the time is printed,
    // the layout must separate the clusters and agree with the CPU run of the same code on a
    // subset (KL within 5%).
    const auto [x, labels] = gaussianClusters(10, 7000, 128, 20, 51);
    TsneOptions options;
    options.device = torch::Device(torch::kCUDA);
    options.method = TsneOptions::Method::Fft;
    const auto started = std::chrono::steady_clock::now();
    const auto result = runTsne(x, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    qInfo("t-SNE on CUDA, N = 70000 x 128, 750 iterations: %.2f s, KL %.4f",
          seconds, result.kl_divergence);
    QVERIFY(torch::isfinite(result.layout).all().item<bool>());
    QVERIFY(layoutKnnAccuracy(result.layout, labels, 5, 10) > 0.99);
    const auto subset = x.slice(0, 0, 3000);
    TsneOptions small;
    small.method = TsneOptions::Method::Fft;
    small.neighbours = TsneNeighbours::Exact;
    const auto cpu = runTsne(subset, small);
    small.device = options.device;
    const auto gpu = runTsne(subset, small);
    QVERIFY2(std::abs(cpu.kl_divergence - gpu.kl_divergence) < 0.05 * cpu.kl_divergence,
             qPrintable(QString("KL CPU %1, CUDA %2").arg(cpu.kl_divergence).arg(gpu.kl_divergence)));
  }

  void fftModeSeparatesClustersAndKlNearExactMode() {
    const auto [x, labels] = gaussianClusters(5, 120, 50, 20, 2);
    auto options = quickOptions();
    options.method = TsneOptions::Method::Exact;
    const auto exact = runTsne(x, options);
    options.method = TsneOptions::Method::Fft;
    const auto fft = runTsne(x, options);
    const auto p = computeAffinities(x, options.perplexity, 2);
    const double fft_exact_kl = klDivergence(p, fft.layout);
    const double exact_kept = neighbourPreservation(x, exact.layout), fft_kept = neighbourPreservation(x, fft.layout);
    qInfo("N = 600: KL exact mode %.4f, FFT mode %.4f (its own estimate %.4f); 10-NN %.3f vs %.3f; 5-NN label "
          "accuracy of the FFT layout %.4f",
          exact.kl_divergence, fft_exact_kl, fft.kl_divergence, exact_kept, fft_kept,
          layoutKnnAccuracy(fft.layout, labels, 5, 5));
    // Measured 0.9055 (exact) and 0.9121 (FFT), 10-NN 0.339 both; asserted with margin.
    QVERIFY(std::abs(fft_exact_kl - exact.kl_divergence) < 0.05 * exact.kl_divergence);
    QVERIFY(std::abs(fft.kl_divergence - fft_exact_kl) < 0.01 * fft_exact_kl);
    QVERIFY(std::abs(fft_kept - exact_kept) < 0.03);
    // Within a cluster the 50-D noise is isotropic, so which ten of its 119 mates are nearest
    // is weakly determined (chance knowing the cluster: 10 / 119 = 0.08); far above that.
    QVERIFY2(fft_kept > 0.25, qPrintable(QString("preservation %1").arg(fft_kept)));
    QVERIFY(layoutKnnAccuracy(fft.layout, labels, 5, 5) > 0.99);
  }

  void exactModeSizeGuard() {
    auto options = quickOptions();
    options.method = TsneOptions::Method::Exact;
    const auto message = expectError([&] { runTsne(torch::zeros({kTsneExactLimit + 1, 2}), options); });
    QVERIFY2(contains(message, "O(N^2)") && contains(message, "N = 10001") && contains(message, "FFT"),
             message.c_str());
    QCOMPARE(resolvedTsneMethod(TsneOptions{}, 9999), TsneOptions::Method::BarnesHut);
    QCOMPARE(resolvedTsneMethod(TsneOptions{}, 10000), TsneOptions::Method::Fft);
  }

  void layoutNeighboursAreExact() {
    // neighbourPreservation's 2-D search (a grid) against brute force, on clumped layouts and
    // on one with duplicated points; the high-D side is exact by construction.
    for (const uint64_t seed : {31u, 32u}) {
      auto y = clumpedLayout(1500, seed);
      if (seed == 32) y.slice(0, 0, 40).copy_(y.slice(0, 40, 80));  // exact duplicates
      const auto x = torch::cat({y, torch::zeros({1500, 3}, torch::kFloat64)}, 1).to(torch::kFloat32);
      // Points identical in x and layout: every neighbour is kept (ties broken alike).
      const double self = neighbourPreservation(x, y, 10);
      QVERIFY2(self > 0.995, qPrintable(QString("seed %1: %2").arg(seed).arg(self)));
    }
    torch::manual_seed(33);
    const auto x = torch::randn({800, 6});
    const auto y = torch::randn({800, 2}, torch::kFloat64);
    const double measured = neighbourPreservation(x, y, 10);
    const double reference = neighbourRecall(bruteNeighbours(y, 10), bruteNeighbours(x, 10));
    QVERIFY2(std::abs(measured - reference) < 1e-12, qPrintable(QString("%1 vs %2").arg(measured).arg(reference)));
  }

  void approximateNeighboursRecall() {
    // 20 Gaussian clusters of different widths in 64-D, plus uniform background points: the
    // approximate graph against the exact one.
    torch::manual_seed(41);
    const int64_t n = 12000, k = 15;
    const auto cluster = torch::randint(0, 20, {n}, torch::kLong);
    const auto centres = torch::randn({20, 64}) * 4;
    const auto widths = torch::rand({20, 1}) * 1.5 + 0.5;
    auto x = centres.index_select(0, cluster) + torch::randn({n, 64}) * widths.index_select(0, cluster);
    x.slice(0, 0, 500).copy_(torch::rand({500, 64}) * 16 - 8);
    const auto started = std::chrono::steady_clock::now();
    const auto exact = exactNeighbourGraph(x, k);
    const auto exact_done = std::chrono::steady_clock::now();
    ApproximateNeighbourOptions options;
    options.threads = 2;
    const auto approximate = approximateNeighbourGraph(x, k, options);
    const auto approximate_done = std::chrono::steady_clock::now();
    const double recall = neighbourRecall(approximate.indices, exact.indices);
    options.refine_rounds = 0;
    const double cells_only = neighbourRecall(approximateNeighbourGraph(x, k, options).indices, exact.indices);
    options.refine_rounds = ApproximateNeighbourOptions{}.refine_rounds;
    qInfo("N = %lld x 64, k = %lld: recall %.4f (cell search alone %.4f); exact %.2f s, approximate %.2f s",
          static_cast<long long>(n), static_cast<long long>(k), recall, cells_only,
          std::chrono::duration<double>(exact_done - started).count(),
          std::chrono::duration<double>(approximate_done - exact_done).count());
    // Measured 0.970 (cell search alone 0.968) with 2 threads: 64-D isotropic noise within a
    // cluster is the hard case for any cell index; asserted with margin.
    QVERIFY2(recall > 0.96, qPrintable(QString("recall %1").arg(recall)));
    QVERIFY(recall >= cells_only);
    // Rows sorted ascending with no self and no repeats; distances are the true ones.
    const auto d = approximate.distances;
    QVERIFY((d.slice(1, 1, k) >= d.slice(1, 0, k - 1)).all().item<bool>());
    const auto self = torch::arange(n, torch::kLong).unsqueeze(1);
    QVERIFY(!(approximate.indices == self).any().item<bool>());
    const auto sorted = std::get<0>(approximate.indices.sort(1));
    QVERIFY(!(sorted.slice(1, 1, k) == sorted.slice(1, 0, k - 1)).any().item<bool>());
    const auto check = (x.index_select(0, approximate.indices.select(1, 5)) - x).pow(2).sum(1);
    QVERIFY(torch::allclose(check, d.select(1, 5), 1e-3, 1e-3));
    // Deterministic for a seed.
    QVERIFY(torch::equal(approximateNeighbourGraph(x, k, options).indices, approximate.indices));
    QVERIFY(contains(expectError([&] { approximateNeighbourGraph(x, n, options); }), "k = 12000"));
    // A different seed draws other k-means cells and still finds the neighbours.
    options.seed = 5;
    QVERIFY(neighbourRecall(approximateNeighbourGraph(x, k, options).indices, exact.indices) > 0.96);
  }

  void deterministic() {
    const auto [x, labels] = gaussianClusters(3, 60, 10, 10, 8);
    auto options = quickOptions();
    options.iterations = 200;
    const auto a = runTsne(x, options);
    const auto b = runTsne(x, options);
    QVERIFY(torch::equal(a.layout, b.layout));
    QCOMPARE(a.kl_divergence, b.kl_divergence);
    // Per-point results are reduced in index order, so the thread count does not matter either.
    options.threads = 1;
    QVERIFY(torch::equal(runTsne(x, options).layout, a.layout));
  }

  void timingTenThousandPoints() {
    const auto [x, labels] = gaussianClusters(10, 1000, 128, 20, 12);
    TsneOptions options;  // as openTSNE: FFT from 10,000 points; torch's thread count
    // A shortened schedule keeps the suite quick; full runs against openTSNE are timed by
    // resources/python/bench_tsne.py (docs/benchmarks.md).
    options.iterations = 300;
    options.exaggeration_iterations = 150;
    int64_t callbacks = 0;
    const auto started = std::chrono::steady_clock::now();
    const auto affinities = computeAffinities(x, options.perplexity, options.threads);
    const double affinity_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const auto result = runTsne(x, options, {}, [&](const TsneProgress&) {
      ++callbacks;
      return true;
    });
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count() - affinity_seconds;
    qInfo("t-SNE FFT, N = 10000 x 128, 300 iterations, %d threads: %.1f s in all (affinities alone %.1f s), "
          "KL %.3f",
          at::get_num_threads(), seconds, affinity_seconds, result.kl_divergence);
    QCOMPARE(affinities.n, int64_t{10000});
    QCOMPARE(callbacks, int64_t{6});
    QVERIFY(layoutKnnAccuracy(result.layout, labels, 5, 10) > 0.99);
  }
};

STUDIO_TEST_MAIN(TestTsne)
#include "test_tsne.moc"
