#pragma once
// LibTorch's process-wide settings that training and evaluation change: the intra-op thread
// count, the default random generators (a model's initial weights are drawn from them), and
// on CUDA TF32 and cuDNN autotuning. A ScopedTorchState makes those changes and puts each one
// back when it goes out of scope, so a run leaves the process as its caller had it (the
// studio's GUI thread, a test, another run).
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

#include "core/device/engine_plan.h"

namespace studio {

class ScopedTorchState {
 public:
  ScopedTorchState() = default;
  ~ScopedTorchState();
  ScopedTorchState(const ScopedTorchState&) = delete;
  ScopedTorchState& operator=(const ScopedTorchState&) = delete;

  void setThreads(int64_t threads);       // > 0: that many; 0 leaves the count as it is
  void seed(int64_t seed);                // the CPU and every CUDA device's default generator
  void applyPlan(const EnginePlan& plan);  // TF32 and cuDNN autotuning, on CUDA plans

 private:
  int saved_threads_ = -1;  // -1: not changed
  bool seeded_ = false;
  at::Tensor saved_cpu_generator_;
  std::vector<at::Tensor> saved_cuda_generators_;
  bool plan_applied_ = false;
  bool saved_tf32_cublas_ = false, saved_tf32_cudnn_ = false, saved_cudnn_benchmark_ = false;
};

}  // namespace studio
