#include "core/train/training_step.h"

#include <ATen/DeviceAccelerator.h>
#include <torch/torch.h>

#include <chrono>
#include <vector>

#include "core/device/autocast_scope.h"

namespace studio {

using Clock = std::chrono::steady_clock;

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) at::accelerator::synchronizeDevice(device.index() < 0 ? 0 : device.index());
}

TrainingStep::TrainingStep(ContrastiveModel& model, const EnginePlan& plan, const torch::Device& device,
                           double temperature)
    : model_(model), device_(device), bf16_(plan.bf16), temperature_(temperature) {
  // The plan asks for a graph only when registered kernels can capture one.
  if (plan.cuda_graph)
    graph_ = deviceKernels()->capture_pass([this](const torch::Tensor& views) {
      const NtXentResult r = forwardBackward(views, nullptr);
      return std::vector<torch::Tensor>{r.loss, r.pos_accuracy};
    });
}

NtXentResult TrainingStep::forwardBackward(const torch::Tensor& views, StepTimes* times) {
  auto since = Clock::now();
  auto mark = [&](double* slot) {
    if (!times) return;
    synchronize(device_);
    const auto now = Clock::now();
    *slot = std::chrono::duration<double, std::milli>(now - since).count();
    since = now;
  };
  torch::Tensor z;
  {
    AutocastScope autocast(device_.type(), torch::kBFloat16, bf16_);
    z = model_->forward(views);
  }
  mark(times ? &times->forward_ms : nullptr);
  // The loss in float32, outside autocast: cosine similarities over a temperature need more
  // than bf16's 8 bits.
  NtXentResult result = ntXentLoss(z, temperature_);
  mark(times ? &times->loss_ms : nullptr);
  result.loss.backward();
  mark(times ? &times->backward_ms : nullptr);
  return result;
}

NtXentResult TrainingStep::run(const torch::Tensor& views, TrainingOptimizer& optimizer, StepTimes* times) {
  if (!graph_) {
    optimizer.zeroGrad();
    return forwardBackward(views, times);
  }
  // Once captured, the replays write the gradients in place: they are not reset.
  if (!graph_->captured()) optimizer.zeroGrad();
  const auto t_pass = Clock::now();
  const auto outputs = graph_->run(views);
  NtXentResult result;
  result.loss = outputs[0];
  result.pos_accuracy = outputs[1];
  if (times) {
    synchronize(device_);
    times->forward_ms = std::chrono::duration<double, std::milli>(Clock::now() - t_pass).count();  // both, one replay
    times->loss_ms = times->backward_ms = 0;
  }
  return result;
}

}  // namespace studio
