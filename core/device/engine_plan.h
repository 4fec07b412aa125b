#pragma once
// What the engine does for one run on one device: the concrete choices behind the "auto"s
// of EngineConfig (core/experiment/config.h), decided once before training from what the device
// offers, with the fallbacks taken spelled out for the run's first message.
#include <cstdint>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "core/experiment/config.h"

namespace studio {

// What is known about the device: memory in bytes (-1 = unknown), bf16 arithmetic, and
// whether this build has the CUDA augmentation kernels.
struct DeviceFacts {
  std::string name;  // e.g. "NVIDIA H200"; empty when unknown
  int64_t free_bytes = -1, total_bytes = -1;
  bool bf16 = false;
  bool kernels = false;
  bool cuda_graphs = false;  // this build can capture CUDA graphs (gpu/captured_step.h)
};

struct EnginePlan {
  bool cuda = false;
  int64_t dataset_bytes = 0;
  bool fused_augment = true;  // fused appliers (CUDA kernels, CPU threads) instead of the torch ops
  bool bf16 = false;          // bf16 autocast of the forward pass
  bool channels_last = false;
  bool resident = false;      // CUDA: the uint8 images stay on the device
  int64_t prefetch = 0;       // batches prepared ahead on a background thread
  bool cuda_graph = false;
  bool tf32 = false, cudnn_benchmark = false;
  bool host_memory_cache = false;
  std::vector<std::string> notes;  // fallbacks taken, in words
  // "CUDA augmentation kernels, images on the GPU (47.0 MB), bf16 autocast, channels-last, ..."
  std::string summary() const;
};

// The images may live on the GPU when they fit in its free memory less a reserve for
// training: a quarter of the device, at least 1 GiB. Unknown memory: they do not.
bool datasetFitsOnDevice(int64_t dataset_bytes, const DeviceFacts& device, int64_t* reserve_bytes = nullptr);

// Throws studio::Error(BadInput), naming the engine key, for a demand the device cannot
// meet: fused augmentation on a CUDA device without the kernels, bf16 on a GPU without it,
// resident data that does not fit.
EnginePlan planEngine(const EngineConfig& config, const c10::Device& device, int64_t dataset_bytes,
                      const DeviceFacts& facts);

// "12.3 MB", "1.50 GB": for messages.
std::string formatBytes(int64_t bytes);

}  // namespace studio
