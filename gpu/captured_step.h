#pragma once
// CUDA-graph capture of a training step's forward and backward pass. After a few eager
// warm-up runs on a side stream, the pass is recorded once and then replayed at every
// step, which saves the launch cost of each of its kernels (small models at small batches
// are bound by launches, not arithmetic). The recorded pass reads its input from one
// static tensor and leaves its outputs and the parameters' gradients in static tensors:
// the optimizer steps outside the graph, and the gradients must not be reset (set to
// none) once the pass is captured, since the replays write into them.
#include <functional>
#include <memory>
#include <vector>

#include <torch/types.h>

#include "core/device/device_kernels.h"

namespace studio::gpu {

class CapturedStep final : public CapturedPass {
 public:
  using Body = PassBody;
  // body: the forward and backward pass on `input`, returning what the caller reads
  // afterwards (loss, accuracy). warmup_runs eager runs come before the capture.
  explicit CapturedStep(Body body, int warmup_runs = 3);
  ~CapturedStep();
  CapturedStep(const CapturedStep&) = delete;
  CapturedStep& operator=(const CapturedStep&) = delete;

  // Runs the pass on `input` (same shape, type and layout at every call): eagerly during
  // warm-up, then by replaying the recorded graph. After the capture the returned tensors
  // are the graph's static outputs: read them before the next call.
  std::vector<torch::Tensor> run(const torch::Tensor& input) override;
  bool captured() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether this build can capture CUDA graphs (its torch links the CUDA runtime).
bool cudaGraphsAvailable();

}  // namespace studio::gpu
