#pragma once
// Datasets in memory: uint8 NCHW images with int64 labels, loaded fully so that batches
// are sampled by indexing (and, on a GPU, uploaded once). Readers for IDX (MNIST,
// Fashion-MNIST; gzip or raw), CIFAR-10/100 binary and the studio's packed format.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/experiment/config.h"
#include "core/data/image_table.h"

namespace studio {

struct Dataset {
  std::string name;
  torch::Tensor images;  // uint8 [N, C, H, W], contiguous, CPU
  torch::Tensor labels;  // int64 [N]; -1 = unlabeled
  std::vector<std::string> class_names;

  int64_t size() const { return images.defined() ? images.size(0) : 0; }
  int64_t channels() const { return images.size(1); }
  int64_t height() const { return images.size(2); }
  int64_t width() const { return images.size(3); }
  bool labeled() const;  // every label >= 0 and class names known
  int64_t numClasses() const { return static_cast<int64_t>(class_names.size()); }
  Dataset subset(const torch::Tensor& indices) const;  // rows in the given order
};

struct DatasetSplits {
  Dataset train;  // what pretraining sees
  Dataset eval;   // held-out labeled images for the kNN monitor (may be empty)
};

// Loads the dataset the config names. Throws studio::Error(BadInput) naming the file and
// what is wrong (missing, truncated, wrong magic, empty).
DatasetSplits loadDataset(const DatasetConfig& config, int64_t seed);

// Built-in location of Fashion-MNIST (Debian's dataset-fashion-mnist package), or the
// folder in $STUDIO_FASHION_MNIST_DIR.
std::string builtinFashionMnistDir();

// IDX pair (images idx3-ubyte, labels idx1-ubyte), gzip-compressed or raw.
Dataset readIdxDataset(const std::string& images_path, const std::string& labels_path);
// CIFAR binary batches: label_bytes 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine; fine used).
Dataset readCifarBinary(const std::vector<std::string>& files, int label_bytes);
// The studio's packed format (core/data/packed_dataset.h).
Dataset readPackedAsDataset(const std::string& path);

// The dataset's buffers shared (not copied) as a torch-free table.
ImageTable toImageTable(const Dataset& data);

// Per-channel mean and std of the images scaled to [0, 1] (over at most max_images).
void channelStats(const Dataset& data, std::vector<double>& mean, std::vector<double>& std,
                  int64_t max_images = 10000);

}  // namespace studio
