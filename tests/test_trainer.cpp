// The trainer end to end on small data: checkpoint/resume continues the same trajectory,
// pause/resume/cancel from another thread are honoured, a collapsing run is warned about.
// That each method learns on Fashion-MNIST is test_methods' everyMethodLearnsWithoutCollapsing.
#include <QtTest/QtTest>

#include <torch/torch.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "core/device/device.h"
#include "core/base/metrics_record.h"
#include "core/data/packed_dataset.h"
#include "core/exchange/safetensors_torch.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "core/runs/run_index.h"
#include "core/train/trainer.h"
#include "tests/test_support.h"
#include "tests/tiny_dataset.h"

using namespace studio;
using studio::test::contains;
using studio::test::expectError;
using studio::test::stepLosses;
using studio::test::writeTinyDataset;

namespace {

ExperimentConfig tinyConfig(const std::string& data) {
  ExperimentConfig c = test::tinyExperiment(data);
  c.augment.saturation = 0;
  c.augment.hue = 0;
  return c;
}

}  // namespace

class TestTrainer : public QObject {
  Q_OBJECT
 private Q_SLOTS:
  void initTestCase() { torch::set_num_threads(2); }

  void resumeContinuesTheSameTrajectory() {
    const std::string dir = test::scratchDir("trainer_resume");
    const auto config = tinyConfig(writeTinyDataset(dir));

    Trainer straight(config, dir + "/runs");
    const auto reference = stepLosses(straight);
    QCOMPARE(reference.size(), size_t(12));  // 192 training images / 32 x 2 epochs

    Trainer first(config, dir + "/runs");
    const auto part = stepLosses(first, /*stop_after=*/5);
    QCOMPARE(part.size(), size_t(5));
    QCOMPARE(QString::fromStdString(readRunRecord(first.folder().path()).status), QString("cancelled"));

    Trainer resumed(RunFolder::open(dir + "/runs", first.folder().path()));
    const auto rest = stepLosses(resumed);
    QCOMPARE(rest.size(), size_t(7));
    QCOMPARE(rest.front().first, int64_t(6));
    for (size_t i = 0; i < rest.size(); ++i) {
      const double want = reference[5 + i].second, got = rest[i].second;
      QVERIFY2(std::abs(want - got) < 1e-5, qPrintable(QString("step %1: %2 vs %3").arg(rest[i].first).arg(got).arg(want)));
    }
    // metrics.jsonl holds each step once, in order.
    std::ifstream in(first.folder().metricsPath());
    std::string line;
    std::vector<int64_t> steps;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);
      if (j["kind"] == "step") steps.push_back(j["step"].get<int64_t>());
    }
    QCOMPARE(steps.size(), size_t(12));
    for (size_t i = 0; i < steps.size(); ++i) QCOMPARE(steps[i], int64_t(i + 1));
  }

  void killedRunResumesFromItsLastCheckpoint() {
    // A run killed between checkpoints leaves metrics past the checkpoint and maybe a torn
    // line: resume drops both and redoes those steps.
    const std::string dir = test::scratchDir("trainer_killed");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.train.checkpoint_every_steps = 4;
    Trainer again(config, dir + "/runs2");
    std::vector<int64_t> seen;
    again.run([&](const MetricsRecord& r) {
      if (r.kind == RecordKind::Step) seen.push_back(r.step);
      return !(r.kind == RecordKind::Step && r.step == 4);
    });
    // Now append records as if steps 5-6 ran and the process died mid-line.
    {
      std::ofstream out(again.folder().metricsPath(), std::ios::app);
      out << "{\"kind\":\"step\",\"step\":5,\"loss\":1.0}\n{\"kind\":\"step\",\"st";
    }
    Trainer resumed(RunFolder::open(dir + "/runs2", again.folder().id()));
    const auto rest = stepLosses(resumed);
    QCOMPARE(rest.front().first, int64_t(5));
    std::ifstream in(again.folder().metricsPath());
    std::string line;
    int fives = 0;
    while (std::getline(in, line)) {
      const auto j = nlohmann::json::parse(line);  // no torn line survives
      if (j["kind"] == "step" && j["step"] == 5) ++fives;
    }
    QCOMPARE(fives, 1);
  }

  void pauseResumeCancelFromAnotherThread() {
    const std::string dir = test::scratchDir("trainer_control");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.train.epochs = 200;  // far more than the test lets it run
    Trainer trainer(config, dir + "/runs");
    std::atomic<int64_t> last_step{0};
    TrainOutcome outcome;
    std::thread worker([&] {
      outcome = trainer.run([&](const MetricsRecord& r) {
        if (r.kind == RecordKind::Step) last_step.store(r.step);
        return true;
      });
    });
    QTRY_VERIFY_WITH_TIMEOUT(last_step.load() >= 3, 60000);
    trainer.requestPause();
    QTest::qWait(300);  // the step in flight finishes
    const int64_t paused_at = last_step.load();
    QTest::qWait(700);
    QCOMPARE(last_step.load(), paused_at);  // nothing moves while paused
    QVERIFY(trainer.isPaused());
    trainer.requestResume();
    QTRY_VERIFY_WITH_TIMEOUT(last_step.load() > paused_at + 2, 60000);
    trainer.requestCancel();
    worker.join();
    QCOMPARE(QString::fromStdString(outcome.status), QString("cancelled"));
    QVERIFY(outcome.steps < 200 * 6);
    QVERIFY(outcome.steps >= paused_at + 3);
    // Cancelled runs are checkpointed where they stopped.
    Trainer resumed(RunFolder::open(dir + "/runs", trainer.folder().path()));
    int64_t first_step = -1;
    resumed.requestCancel();  // stops before its first step: the checkpoint step is kept
    const auto again = resumed.run([&](const MetricsRecord& r) {
      if (r.kind == RecordKind::Step && first_step < 0) first_step = r.step;
      return true;
    });
    QCOMPARE(again.steps, outcome.steps);
  }

  // Any exception ends the run as failed with its message, also one that is neither the
  // engine's nor LibTorch's (here the client's own callback throws a std::runtime_error).
  void anyExceptionEndsTheRunAsFailed() {
    const std::string dir = test::scratchDir("trainer_foreign_exception");
    auto config = tinyConfig(writeTinyDataset(dir));
    Trainer trainer(config, dir + "/runs");
    const std::string message = expectError(
        [&] {
          trainer.run([&](const MetricsRecord& r) {
            if (r.kind == RecordKind::Step && r.step == 2) throw std::runtime_error("the client gave up");
            return true;
          });
        },
        ErrorKind::Failure);
    QVERIFY2(contains(message, "training failed: the client gave up"), message.c_str());
    QCOMPARE(QString::fromStdString(readRunRecord(trainer.folder().path()).status), QString("failed"));
    const auto records = readMetricsFile(trainer.folder().metricsPath());
    QVERIFY(!records.empty());
    QVERIFY(records.back().kind == RecordKind::End);
    QCOMPARE(QString::fromStdString(records.back().text), QString("failed: the client gave up"));
  }

  // A run sets LibTorch's thread count and seeds its generators for itself, then puts both
  // back: the caller's next random numbers and thread count are as if no run had happened.
  void runLeavesTorchStateAsItWas() {
    const std::string dir = test::scratchDir("trainer_torch_state");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.train.threads = 1;  // initTestCase set 2
    torch::manual_seed(12345);
    const torch::Tensor expected = torch::rand({4});  // the generator's next draws from this state
    torch::manual_seed(12345);
    Trainer trainer(config, dir + "/runs");
    trainer.run([](const MetricsRecord&) { return true; });
    QCOMPARE(torch::get_num_threads(), 2);
    QVERIFY(torch::equal(torch::rand({4}), expected));
    // The same for measuring a finished run.
    torch::manual_seed(12345);
    (void)embedRunMap(trainer.folder(), 8, "cpu");
    QCOMPARE(torch::get_num_threads(), 2);
    QVERIFY(torch::equal(torch::rand({4}), expected));
  }

  void cancelWhilePausedStops() {
    const std::string dir = test::scratchDir("trainer_pause_cancel");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.train.epochs = 100;
    Trainer trainer(config, dir + "/runs");
    std::atomic<int64_t> last_step{0};
    std::thread worker([&] {
      trainer.run([&](const MetricsRecord& r) {
        if (r.kind == RecordKind::Step) last_step.store(r.step);
        return true;
      });
    });
    QTRY_VERIFY_WITH_TIMEOUT(last_step.load() >= 1, 60000);
    trainer.requestPause();
    QTest::qWait(200);
    trainer.requestCancel();  // must wake the paused trainer
    worker.join();
    QCOMPARE(QString::fromStdString(readRunRecord(trainer.folder().path()).status), QString("cancelled"));
  }

  void snapshotsCarryTheMapImagesAtEachEvaluation() {
    const std::string dir = test::scratchDir("trainer_snapshot");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.monitor.every_epochs = 1;
    config.monitor.map_size = 40;
    config.monitor.query_size = 64;
    Trainer trainer(config, dir + "/runs");
    std::vector<EmbeddingSnapshot> snapshots;
    trainer.setSnapshotCallback([&](const EmbeddingSnapshot& s) { snapshots.push_back(s); });
    trainer.run(nullptr);
    // Step 0 (untrained), after epoch 1, and the final evaluation.
    QCOMPARE(snapshots.size(), size_t(3));
    QCOMPARE(snapshots.front().step, int64_t(0));
    QCOMPARE(snapshots.back().step, int64_t(2 * (192 / 32)));
    for (const auto& s : snapshots) {
      QCOMPARE(s.rows, int64_t(40));
      QCOMPARE(s.dims, int64_t(8 * 4));  // the ConvNet's feature width (width x 4)
      QCOMPARE(s.features.size(), size_t(40 * s.dims));
      QCOMPARE(s.images.count, int64_t(40));
      QCOMPARE(s.images.labels.size(), size_t(40));
      QCOMPARE(s.images.class_names.size(), size_t(4));
      double norm = 0;
      for (int64_t d = 0; d < s.dims; ++d) norm += double(s.features[size_t(d)]) * s.features[size_t(d)];
      QVERIFY(std::abs(norm - 1.0) < 1e-4);  // L2-normalised rows
    }
    // The same images every time (shared buffer), and the embeddings move as training goes.
    QCOMPARE(snapshots.front().images.pixels.get(), snapshots.back().images.pixels.get());
    QVERIFY(snapshots.front().features != snapshots.back().features);

    // The map recomputed from the run's checkpoint is the final snapshot.
    const EmbeddingSnapshot again = embedRunMap(trainer.folder(), 0, "cpu");
    QCOMPARE(again.rows, int64_t(40));
    QCOMPARE(again.step, snapshots.back().step);
    double worst = 0;
    for (size_t i = 0; i < again.features.size(); ++i)
      worst = std::max(worst, double(std::abs(again.features[i] - snapshots.back().features[i])));
    QVERIFY2(worst < 1e-4, qPrintable(QString::number(worst)));
  }

  // A run whose encoder maps every image to one point (it starts from all-zero weights, and no
  // gradient leads away from them: every layer's output is the same for every image): the
  // health says so at every evaluation, and the warning comes once, after step 0 (an untrained
  // encoder is not the run's doing), with the method's own advice; metrics.jsonl keeps both.
  void collapsingRunIsWarnedOnce() {
    const std::string dir = test::scratchDir("trainer_collapse");
    auto config = tinyConfig(writeTinyDataset(dir));
    {
      ContrastiveModel model = makeContrastiveModel(config.model, 1, 12);
      NamedTensors zeros;
      for (const auto& [name, t] : exchangeTensors(model->backbone()))
        zeros.emplace_back(name, t.is_floating_point() && !contains(name, "running_var") ? torch::zeros_like(t) : t);
      writeSafetensorsTensors(dir + "/zero.safetensors", zeros);
    }
    config.model.init_from = dir + "/zero.safetensors";
    config.monitor.every_epochs = 0.5;  // 6 steps an epoch: evaluations at steps 0, 3, 6, 9 and 12
    Trainer trainer(config, dir + "/runs");
    std::vector<MetricsRecord> evals, warnings;
    const auto outcome = trainer.run([&](const MetricsRecord& r) {
      if (r.kind == RecordKind::Eval) evals.push_back(r);
      if (r.kind == RecordKind::Info && r.has("collapse_warning")) warnings.push_back(r);
      return true;
    });
    QCOMPARE(QString::fromStdString(outcome.status), QString("finished"));
    QCOMPARE(evals.size(), size_t(5));
    for (const MetricsRecord& e : evals) {
      QCOMPARE(e.value("collapsing"), 1.0);
      QVERIFY2(e.value("embedding_spread") < 1e-3, qPrintable(QString::number(e.value("embedding_spread"))));
      QVERIFY(e.value("effective_rank") < 1.01);
      QCOMPARE(e.value("embedding_dims"), 32.0);
      QVERIFY(e.has("alignment") && e.has("uniformity") && e.has("knn_top1"));
    }
    QCOMPARE(warnings.size(), size_t(1));
    QCOMPARE(warnings[0].step, int64_t(3));
    const std::string& text = warnings[0].text;
    QVERIFY2(contains(text, "SimCLR embeddings are collapsing") && contains(text, "method.simclr.temperature"),
             text.c_str());
    int in_file = 0;
    for (const MetricsRecord& r : readMetricsFile(outcome.run_dir + "/metrics.jsonl"))
      if (r.kind == RecordKind::Info && r.has("collapse_warning") && r.text == text) ++in_file;
    QCOMPARE(in_file, 1);
  }

  void badInputMarksTheRunFailed() {
    const std::string dir = test::scratchDir("trainer_bad");
    auto config = tinyConfig(writeTinyDataset(dir));
    config.train.batch_size = 4096;
    Trainer trainer(config, dir + "/runs");
    const auto m = expectError([&] { trainer.run(nullptr); });
    QVERIFY2(contains(m, "train.batch_size = 4096"), m.c_str());
    QCOMPARE(QString::fromStdString(readRunRecord(trainer.folder().path()).status), QString("failed"));

    if (!cudaAvailable()) {
      auto gpu = tinyConfig(config.dataset.path);
      gpu.train.device = "cuda";
      Trainer t2(gpu, dir + "/runs");
      const auto m2 = expectError([&] { t2.run(nullptr); });
      QVERIFY2(contains(m2, "train.device = \"cuda\""), m2.c_str());
    }
  }
};

QTEST_MAIN(TestTrainer)
#include "test_trainer.moc"
