#pragma once
// The seam between the engine and its optional CUDA kernels. core declares here what it can
// use; gpu/ implements it and registers it when a client starts
// (studio::gpu::registerDeviceKernels(), gpu/register_kernels.h). core never includes gpu/.
// With nothing registered (a build without nvcc, or a client that did not register), the
// engine augments on CUDA devices with torch's ops and captures no CUDA graphs: the same
// views and losses, more slowly (core/device/engine_plan.cpp says so in the run's plan).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <torch/types.h>

#include "core/augment/augment_math.h"

namespace studio {

// A forward and backward pass recorded once and then replayed (a CUDA graph).
class CapturedPass {
 public:
  virtual ~CapturedPass() = default;
  // The pass on input (same shape, type and layout at every call). Once captured, the
  // returned tensors are the graph's static outputs: read them before the next call.
  virtual std::vector<torch::Tensor> run(const torch::Tensor& input) = 0;
  virtual bool captured() const = 0;
};
// The pass to capture: forward and backward on its input, returning what the caller reads.
using PassBody = std::function<std::vector<torch::Tensor>(const torch::Tensor& input)>;

struct GpuFacts {
  std::string name;
  int64_t free_bytes = 0, total_bytes = 0;
  bool bf16 = false;  // computes in bfloat16 (compute capability 8.0 and newer)
};

struct DeviceKernels {
  // Gathers images[indices] on the device and augments them into views as the table says
  // (core/augment/augment_columns.h), blur weights optional; the CPU applier's arithmetic.
  std::function<torch::Tensor(const torch::Tensor& images, const torch::Tensor& indices, const torch::Tensor& table,
                              const torch::Tensor& blur_weights, const augmath::Pipeline& pipeline)>
      augment_views;
  std::function<bool()> cuda_graphs_available;
  std::function<std::unique_ptr<CapturedPass>(PassBody body)> capture_pass;
  std::function<GpuFacts(int device_index)> gpu_facts;  // throws when the device cannot be asked
};

// Registers the kernels (the last registration wins); call before the engine starts work.
void registerDeviceKernels(DeviceKernels kernels);
// The registered kernels, or nullptr when there are none.
const DeviceKernels* deviceKernels();

}  // namespace studio
