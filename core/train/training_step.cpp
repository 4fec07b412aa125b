#include "core/train/training_step.h"

#include <ATen/DeviceAccelerator.h>
#include <torch/torch.h>

#include <chrono>
#include <vector>


namespace studio {

using Clock = std::chrono::steady_clock;

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
}

TrainingStep::TrainingStep(ContrastiveModel& model, const EnginePlan& plan, const torch::Device& device,
                           const MethodStep& step_shape)
    : model_(model), device_(device), step_shape_(step_shape) {
  step_shape_.device_type = device.type();
  step_shape_.bf16 = plan.bf16;
  // The plan asks for a graph only when registered kernels can capture one and the method
  // can be captured (the trainer turns it off otherwise). A replay repeats the captured
  // step's schedules: capturable methods have none.
  if (plan.cuda_graph)
    graph_ = deviceKernels()->capture_pass([this](const torch::Tensor& views) {
      MethodOutput r = forwardBackward(views, 0, nullptr);
      std::vector<torch::Tensor> outputs{r.loss};
      outputs.insert(outputs.end(), r.metrics.begin(), r.metrics.end());
      return outputs;
    });
}

MethodOutput TrainingStep::forwardBackward(const ViewBatch& views, int64_t step, StepTimes* times) {
  auto since = Clock::now();
  auto mark = [&](double* slot) {
    if (!times) return;
    synchronize(device_);
    const auto now = Clock::now();
    *slot = std::chrono::duration<double, std::milli>(now - since).count();
    since = now;
  };
  MethodStep s = step_shape_;
  s.step = step;
  if (times) s.forward_done = [&] { mark(&times->forward_ms); };
  MethodOutput result = model_->loss(views, s);
  mark(times ? &times->loss_ms : nullptr);
  result.loss.backward();
  mark(times ? &times->backward_ms : nullptr);
  return result;
}

MethodOutput TrainingStep::run(const ViewBatch& views, int64_t step, TrainingOptimizer& optimizer, StepTimes* times) {
  if (!graph_) {
    optimizer.zeroGrad();
    return forwardBackward(views, step, times);
  }
  // Once captured, the replays write the gradients in place: they are not reset.
  if (!graph_->captured()) optimizer.zeroGrad();
  const auto t_pass = Clock::now();
  TORCH_CHECK(!views.local.defined(), "TrainingStep: a captured step takes two-view batches only");
  const auto outputs = graph_->run(views.global);
  MethodOutput result;
  result.loss = outputs[0];
  result.metrics.assign(outputs.begin() + 1, outputs.end());
  if (times) {
    synchronize(device_);
    times->forward_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_pass).count();  // both, one replay
    times->loss_ms = times->backward_ms = 0;
  }
  return result;
}

}  // namespace studio
