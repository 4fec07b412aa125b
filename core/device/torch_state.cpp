#include "core/device/torch_state.h"

#include <ATen/Context.h>
#include <torch/torch.h>

#include <mutex>

namespace studio {
namespace {

at::Tensor generatorState(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state();
}

void setGeneratorState(at::Generator generator, const at::Tensor& state) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
}

}  // namespace

void ScopedTorchState::setThreads(int64_t threads) {
  if (threads <= 0) return;
  if (saved_threads_ < 0) saved_threads_ = torch::get_num_threads();
  torch::set_num_threads(static_cast<int>(threads));
}

void ScopedTorchState::seed(int64_t seed) {
  if (!seeded_) {
    seeded_ = true;
    saved_cpu_generator_ = generatorState(at::detail::getDefaultCPUGenerator());
    if (torch::cuda::is_available()) {
      for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i)
        saved_cuda_generators_.push_back(
            generatorState(at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)))));
    }
  }
  torch::manual_seed(static_cast<uint64_t>(seed));
}

void ScopedTorchState::applyPlan(const EnginePlan& plan) {
  if (!plan.cuda) return;
  auto& context = at::globalContext();
  if (!plan_applied_) {
    plan_applied_ = true;
    saved_tf32_cublas_ = context.allowTF32CuBLAS();
    saved_tf32_cudnn_ = context.allowTF32CuDNN();
    saved_cudnn_benchmark_ = context.benchmarkCuDNN();
  }
  context.setAllowTF32CuBLAS(plan.tf32);
  context.setAllowTF32CuDNN(plan.tf32);
  context.setBenchmarkCuDNN(plan.cudnn_benchmark);
}

ScopedTorchState::~ScopedTorchState() {
  // A destructor: whatever fails here is dropped, the process carries on as it can.
  try {
    if (plan_applied_) {
      auto& context = at::globalContext();
      context.setAllowTF32CuBLAS(saved_tf32_cublas_);
      context.setAllowTF32CuDNN(saved_tf32_cudnn_);
      context.setBenchmarkCuDNN(saved_cudnn_benchmark_);
    }
    if (seeded_) {
      setGeneratorState(at::detail::getDefaultCPUGenerator(), saved_cpu_generator_);
      for (size_t i = 0; i < saved_cuda_generators_.size(); ++i)
        setGeneratorState(at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i))),
                          saved_cuda_generators_[i]);
    }
    if (saved_threads_ > 0) torch::set_num_threads(saved_threads_);
  } catch (...) {
  }
}

}  // namespace studio
