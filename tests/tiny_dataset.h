#pragma once
// A tiny packed dataset for engine tests: 12x12 images in 4 classes (core's bars pattern),
// grayscale or colour, and a small model to train on it. Small enough for exact-trajectory
// checks in seconds.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/experiment/config.h"
#include "core/data/packed_dataset.h"
#include "core/data/synthetic_dataset.h"
#include "core/train/trainer.h"

namespace studio::test {

inline std::string writeTinyDataset(const std::string& dir, int64_t channels = 1, int64_t count = 256) {
  const std::string path = dir + "/tiny" + (channels == 1 ? "" : "-rgb") + "-" + std::to_string(count) + ".csds";
  writePackedDataset(path, makeBarsDataset(count, channels, 12, 12, 4));
  return path;
}

// The tiny dataset's experiment: a width-8 ResNet with a 32-16 head, two epochs of batches
// of 32, no monitoring. Suites change what they test on top of it.
inline ExperimentConfig tinyExperiment(const std::string& data, const std::string& name = "tiny") {
  ExperimentConfig c;
  c.name = name;
  c.dataset.kind = DatasetKind::Packed;
  c.dataset.path = data;
  c.dataset.holdout_fraction = 0.25;
  c.model.width = 8;
  c.model.head_dims = {32, 16};
  c.train.epochs = 2;
  c.train.batch_size = 32;
  c.train.threads = 2;
  c.train.checkpoint_every_steps = 100;
  c.monitor.every_epochs = 0;
  c.monitor.k = 10;
  return c;
}

// The (step, loss) of each step a trainer runs; it asks to stop after step stop_after (> 0):
// what the resume checks compare.
inline std::vector<std::pair<int64_t, double>> stepLosses(Trainer& trainer, int64_t stop_after = -1) {
  std::vector<std::pair<int64_t, double>> losses;
  trainer.run([&](const MetricsRecord& r) {
    if (r.kind == RecordKind::Step) losses.emplace_back(r.step, r.value("loss"));
    return !(stop_after > 0 && r.kind == RecordKind::Step && r.step == stop_after);
  });
  return losses;
}

}  // namespace studio::test
