#include "core/eval/run_evaluation.h"

#include <torch/torch.h>

#include <algorithm>
#include <memory>

#include "core/augment/augment.h"
#include "core/base/error.h"
#include "core/data/dataset.h"
#include "core/data/normalisation.h"
#include "core/device/device.h"
#include "core/device/torch_state.h"
#include "core/eval/embedding_map.h"
#include "core/eval/knn.h"
#include "core/eval/knn_probe.h"
#include "core/eval/run_embeddings.h"
#include "core/model/checkpoint.h"
#include "core/methods/methods.h"
#include "core/model/models.h"

namespace studio {
namespace {

// A run's model as its checkpoint left it (or freshly initialised, for the random-encoder
// baseline), with the data and the augmenter that normalise its input. The thread count and
// the seed are set on the caller's torch_state, which puts them back.
struct RestoredRun {
  ExperimentConfig config;
  DatasetSplits data;
  std::unique_ptr<Augmenter> augmenter;
  ContrastiveModel model{nullptr};
  torch::Device device{torch::kCPU};
  int64_t step = 0;
};

RestoredRun restoreRun(const RunFolder& folder, const std::string& device_spec, const char* device_key, bool random_init,
                       ScopedTorchState& torch_state) {
  RestoredRun r;
  r.config = loadExperimentConfig(folder.configPath());
  if (!random_init && !folder.hasCheckpoint()) throwBadInput(folder.path() + ": the run has no checkpoint yet");
  r.device = resolveDevice(device_spec, device_key);
  torch_state.setThreads(r.config.train.threads);
  r.data = loadDataset(r.config.dataset, r.config.train.seed);
  resolveNormalisation(r.config, r.data.train);
  r.augmenter = std::make_unique<Augmenter>(r.config.augment, r.data.train.channels(), r.data.train.height(),
                                            r.data.train.width());
  torch_state.seed(r.config.train.seed);
  r.model = makeContrastiveModel(r.config.model, r.config.method, r.data.train.channels(), r.augmenter->outSize());
  if (!random_init) r.step = loadCheckpoint(folder.checkpointPath(), r.model, nullptr).step;
  r.model->to(r.device);
  return r;
}

}  // namespace

RunEmbeddings embedRun(const RunFolder& folder, int64_t bank_size, int64_t query_size, const std::string& device_spec,
                       bool random_init) {
  ScopedTorchState torch_state;
  RestoredRun run = restoreRun(folder, device_spec, "--device", random_init, torch_state);
  const KnnProbe probe = makeKnnProbe(run.data, bank_size, query_size, run.config.train.seed);
  if (!probe.usable()) throwBadInput(folder.path() + ": the run's dataset has no labeled held-out split to evaluate on");
  RunEmbeddings e;
  e.step = run.step;
  e.bank_images = probe.bank_images;
  e.bank_labels = probe.bank_labels;
  e.query_images = probe.query_images;
  e.query_labels = probe.query_labels;
  e.class_names = run.data.train.class_names;
  e.bank_features = embedImages(run.model, *run.augmenter, probe.bank_images, run.device);
  e.query_features = embedImages(run.model, *run.augmenter, probe.query_images, run.device);
  return e;
}

EmbeddingSnapshot embedRunMap(const RunFolder& folder, int64_t map_size, const std::string& device_spec,
                              bool random_init) {
  ScopedTorchState torch_state;
  RestoredRun run = restoreRun(folder, device_spec, "device", random_init, torch_state);
  const Dataset map_set =
      makeMapSet(run.data, map_size > 0 ? map_size : run.config.monitor.map_size, run.config.train.seed);
  if (map_set.size() == 0) throwBadInput(folder.path() + ": monitor.map_size is 0, so the run has no map");
  const int64_t steps_per_epoch = std::max<int64_t>(1, run.data.train.size() / run.config.train.batch_size);
  return makeSnapshot(embedImages(run.model, *run.augmenter, map_set.images, run.device), toImageTable(map_set),
                      run.step, double(run.step) / steps_per_epoch);
}

EvalResult evaluateRun(const RunFolder& folder, int64_t k, int64_t bank_size, int64_t query_size, const std::string& device_spec) {
  const RunEmbeddings e = embedRun(folder, bank_size, query_size, device_spec);
  MonitorConfig m = loadExperimentConfig(folder.configPath()).monitor;
  m.k = k > 0 ? k : m.k;
  KnnOptions o;
  o.k = m.k;
  o.temperature = m.temperature;
  const auto classes = static_cast<int64_t>(e.class_names.size());
  EvalResult r;
  r.knn_top1 = knnAccuracy(e.bank_features, e.bank_labels, e.query_features, e.query_labels, classes, o);
  r.raw_pixel_knn_top1 = knnAccuracy(rawPixelFeatures(e.bank_images), e.bank_labels, rawPixelFeatures(e.query_images),
                                     e.query_labels, classes, o);
  r.bank_size = e.bank_images.size(0);
  r.query_size = e.query_images.size(0);
  r.k = m.k;
  r.step = e.step;
  return r;
}

}  // namespace studio
