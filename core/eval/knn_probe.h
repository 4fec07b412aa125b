#pragma once
// What a run's encoder is measured on, during training (the monitor) and after it (eval,
// probe, duplicates, exports): a fixed labelled bank from the training split and fixed
// queries from the held-out split, drawn from the run's seed so that every evaluation of a
// run sees the same images; and the images of the run's embedding map.
#include <cstdint>

#include <torch/types.h>

#include "core/augment/augment.h"
#include "core/data/dataset.h"
#include "core/eval/embedding_map.h"
#include "core/experiment/config.h"
#include "core/model/method.h"

namespace studio {

struct KnnProbe {
  torch::Tensor bank_images, bank_labels, query_images, query_labels;
  int64_t num_classes = 0;
  // Needs labels on both splits and a held-out split.
  bool usable() const { return bank_images.defined() && query_images.defined(); }
};

// bank_size / query_size 0 = all images.
KnnProbe makeKnnProbe(const DatasetSplits& data, int64_t bank_size, int64_t query_size, int64_t seed);

// kNN top-1 of the probe's queries against its bank, on the given features of each.
double probeAccuracy(const KnnProbe& probe, const torch::Tensor& bank_features, const torch::Tensor& query_features,
                     const MonitorConfig& monitor);
// The same on the encoder's features; query_features, when given, receives the queries'.
double encoderProbeAccuracy(const KnnProbe& probe, ContrastiveModel& model, const Augmenter& augmenter,
                            const torch::Device& device, const MonitorConfig& monitor,
                            torch::Tensor* query_features = nullptr);

// The images of the embedding map: the first map_size held-out images (the kNN queries
// start with the same ones, so their features come for free), else a fixed sample of the
// training split. Empty when map_size is 0.
Dataset makeMapSet(const DatasetSplits& data, int64_t map_size, int64_t seed);
EmbeddingSnapshot makeSnapshot(const torch::Tensor& features, const ImageTable& images, int64_t step, double epoch);

}  // namespace studio
