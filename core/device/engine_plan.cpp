#include "core/device/engine_plan.h"

#include <algorithm>
#include <cstdio>

#include "core/base/error.h"

namespace studio {

std::string formatBytes(int64_t bytes) {
  char text[32];
  const double b = static_cast<double>(bytes);
  if (b >= 1e9)
    std::snprintf(text, sizeof text, "%.2f GB", b / 1e9);
  else if (b >= 1e6)
    std::snprintf(text, sizeof text, "%.1f MB", b / 1e6);
  else
    std::snprintf(text, sizeof text, "%.1f kB", b / 1e3);
  return text;
}

bool datasetFitsOnDevice(int64_t dataset_bytes, const DeviceFacts& device, int64_t* reserve_bytes) {
  if (device.free_bytes < 0 || device.total_bytes <= 0) return false;
  const int64_t reserve = std::max<int64_t>(int64_t(1) << 30, device.total_bytes / 4);
  if (reserve_bytes) *reserve_bytes = reserve;
  return dataset_bytes <= device.free_bytes - reserve;
}

std::string EnginePlan::summary() const {
  std::vector<std::string> parts;
  parts.push_back(!fused_augment ? "torch-ops augmentation"
                  : cuda         ? "CUDA augmentation kernels"
                                 : "fused augmentation on CPU threads");
  if (cuda) parts.push_back(resident ? "images on the GPU (" + formatBytes(dataset_bytes) + ")" : "images on the host");
  parts.push_back(bf16 ? "bf16 autocast" : "fp32");
  if (channels_last) parts.push_back("channels-last");
  if (tf32) parts.push_back("TF32");
  if (cudnn_benchmark) parts.push_back("cuDNN autotuning");
  if (cuda_graph) parts.push_back("CUDA graph");
  if (host_memory_cache) parts.push_back("cached host memory");
  parts.push_back(prefetch > 0 ? std::to_string(prefetch) + " batch" + (prefetch > 1 ? "es" : "") + " prepared ahead"
                               : "no prefetch");
  std::string s;
  for (const auto& p : parts) s += (s.empty() ? "" : ", ") + p;
  return s;
}

EnginePlan planEngine(const EngineConfig& config, const c10::Device& device, int64_t dataset_bytes,
                      const DeviceFacts& facts) {
  EnginePlan plan;
  const bool cuda = device.is_cuda();
  plan.cuda = cuda;
  plan.dataset_bytes = dataset_bytes;
  const std::string gpu = facts.name.empty() ? device.str() : device.str() + " (" + facts.name + ")";

  // Augmentation.
  if (config.augment == AugmentEngine::Torch) {
    plan.fused_augment = false;
  } else if (cuda && !facts.kernels) {
    if (config.augment == AugmentEngine::Fused)
      throwBadInput("config: engine.augment = \"fused\", but this build has no CUDA kernels (nvcc was not found when it was "
                    "built): use auto or torch");
    plan.fused_augment = false;
    plan.notes.push_back("this build has no CUDA augmentation kernels: the torch ops augment on the GPU");
  }

  // Precision.
  if (config.precision == Precision::Bf16 && cuda && !facts.bf16)
    throwBadInput("config: engine.precision = \"bf16\", but " + gpu +
                  " has no bf16 arithmetic (compute capability 8.0 or newer): use auto or fp32");
  plan.bf16 = config.precision == Precision::Bf16 || (config.precision == Precision::Auto && cuda && facts.bf16);
  if (config.precision == Precision::Auto && cuda && !facts.bf16)
    plan.notes.push_back(gpu + " has no bf16 arithmetic: training in fp32");

  plan.channels_last = config.channels_last == AutoSwitch::On || (config.channels_last == AutoSwitch::Auto && cuda);

  // Where the images live.
  if (cuda && config.resident_data != AutoSwitch::Off) {
    int64_t reserve = 0;
    const bool fits = datasetFitsOnDevice(dataset_bytes, facts, &reserve);
    if (fits) {
      plan.resident = true;
    } else {
      const std::string why =
          facts.free_bytes < 0
              ? "the free memory of " + gpu + " is unknown"
              : "the images (" + formatBytes(dataset_bytes) + ") do not fit in the free memory of " + gpu + " (" +
                    formatBytes(facts.free_bytes) + " free, " + formatBytes(reserve) + " kept for training)";
      if (config.resident_data == AutoSwitch::On) throwBadInput("config: engine.resident_data = \"on\", but " + why);
      plan.notes.push_back(why + ": each batch is gathered on the host and uploaded");
    }
  }

  plan.prefetch = config.prefetch;
  plan.host_memory_cache = config.host_memory_cache;
  plan.tf32 = cuda && config.tf32;
  plan.cudnn_benchmark = cuda && config.cudnn_benchmark;
  if (config.cuda_graph && cuda && !facts.cuda_graphs)
    throwBadInput(std::string("config: engine.cuda_graph = true, but this build cannot capture CUDA graphs (") +
                  (facts.kernels ? "its LibTorch is linked without the CUDA runtime" : "nvcc was not found when it was built") +
                  "): use false");
  plan.cuda_graph = cuda && config.cuda_graph;
  if (config.cuda_graph && !cuda) plan.notes.push_back("engine.cuda_graph applies to CUDA devices only: off on the CPU");
  return plan;
}

}  // namespace studio
