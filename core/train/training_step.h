#pragma once
// One training step's work on the device: the method's loss (its encoders under bf16 autocast
// when the plan says, the loss in float32) and the backward pass; on plans that ask for it,
// captured once as a CUDA graph and replayed. The optimizer and the method's after-step
// update run outside. The out-of-memory probe runs the same eager pass at smaller batches.
#include <memory>

#include <torch/types.h>

#include "core/device/device_kernels.h"
#include "core/device/engine_plan.h"
#include "core/model/method.h"
#include "core/model/optim.h"

namespace studio {

// Phase times of one step, in milliseconds (filled when profiling).
struct StepTimes {
  double augment_ms = 0, forward_ms = 0, loss_ms = 0, backward_ms = 0, optimizer_ms = 0;
};

// Waits for the device's queued work (CUDA); nothing on the CPU.
void synchronize(const torch::Device& device);

class TrainingStep {
 public:
  // Captures the CUDA graph (plan.cuda_graph) on the first run. Keeps references to model.
  // step_shape: steps_per_epoch and total_steps for the method's schedules.
  TrainingStep(ContrastiveModel& model, const EnginePlan& plan, const torch::Device& device, const MethodStep& step_shape);
  TrainingStep(const TrainingStep&) = delete;
  TrainingStep& operator=(const TrainingStep&) = delete;

  // Gradients of the loss on views, with the optimizer's gradients reset first (a captured
  // graph's replays write them in place instead). times, when given, receives the forward,
  // loss and backward phases, the device synchronised between them.
  // step: optimizer steps done before this one.
  // A captured graph replays two-view batches only (the plan has no graph with multi-crop).
  MethodOutput run(const ViewBatch& views, int64_t step, TrainingOptimizer& optimizer, StepTimes* times);
  // The eager pass alone (gradients accumulate): what the out-of-memory probe runs.
  MethodOutput forwardBackward(const ViewBatch& views, int64_t step, StepTimes* times);

 private:
  ContrastiveModel& model_;
  torch::Device device_;
  MethodStep step_shape_;
  std::unique_ptr<CapturedPass> graph_;
};

}  // namespace studio
