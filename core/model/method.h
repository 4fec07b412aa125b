#pragma once
// The method seam: what a self-supervised method adds to the backbone and how it turns a
// batch of views into a loss. The model room declares it; core/methods implements one class
// per method (SimCLR, MoCo, BYOL, ...) and builds models with them. A method keeps everything
// it owns (projector, predictor, EMA target network, queue, centre) in child modules, which
// the ContrastiveModel registers beside the backbone: checkpoints, devices, train/eval modes
// and the optimizer (which skips tensors that take no gradient) then cover them with no
// method-specific code.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <c10/core/DeviceType.h>
#include <torch/nn/module.h>
#include <torch/types.h>

#include "core/model/models.h"

namespace studio {

// What a loss call knows of the run besides the views.
struct MethodStep {
  int64_t step = 0;             // optimizer steps done before this one
  int64_t steps_per_epoch = 1;  // for schedules counted in epochs
  int64_t total_steps = 1;      // the run's planned length (schedules end there)
  c10::DeviceType device_type = c10::DeviceType::CPU;
  bool bf16 = false;            // encoders under bf16 autocast; losses stay in float32
  // Called, when set, between the encoders' pass and the loss: the profiler's phase mark.
  std::function<void()> forward_done;
};

// A training step's views. global: [2N, C, S, S], rows i and i+N the two global views of
// image i. local (multi-crop, undefined without it): [L*N, C, s, s], row l*N + i the l-th
// local view of image i, smaller than the global ones (s < S), so a separate encoder pass.
struct ViewBatch {
  torch::Tensor global, local;
  ViewBatch() = default;
  ViewBatch(torch::Tensor global_views, torch::Tensor local_views = {})  // NOLINT: a tensor is a two-view batch
      : global(std::move(global_views)), local(std::move(local_views)) {}
  int64_t images() const { return global.size(0) / 2; }
  int64_t localCount() const { return local.defined() ? local.size(0) / images() : 0; }
};

struct MethodOutput {
  torch::Tensor loss;                  // float32 scalar, differentiable
  std::vector<torch::Tensor> metrics;  // float32 scalars, in metricNames() order
};

class MethodImpl : public torch::nn::Module {
 public:
  // The registered method name (method.name).
  virtual std::string name() const = 0;
  // Names of the per-step scalars loss() returns beside the loss (e.g. "pos_acc").
  virtual std::vector<std::string> metricNames() const { return {}; }
  // The loss of one batch of views (two global views per image, and local ones with
  // multi-crop for the methods whose spec says they use them). Pure with respect to the method's state (the out-of-memory probe calls it on batches
  // that are then thrown away); state changes wait for afterStep.
  virtual MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) = 0;
  // After each optimizer step (steps_done counts it): EMA targets, queues, centres.
  virtual void afterStep(BackboneImpl& /*online*/, int64_t /*steps_done*/, int64_t /*total_steps*/) {}
  // Sets the method's state from the online network: the EMA target becomes a copy of it.
  // Called when the model is built and again when a new run imports encoder weights.
  virtual void startFrom(BackboneImpl& /*online*/) {}
  // The online network's output for images, before any predictor: what the loss compares.
  virtual torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) = 0;
  // Whether loss() can be captured once as a CUDA graph and replayed (two-view batches only:
  // multi-crop runs train eagerly): true for methods with no state changing between steps (a target or queue updated in afterStep is fine only when
  // updated in place; methods that cannot promise it say false and train eagerly).
  virtual bool capturable() const { return true; }
};

// A backbone and a method. Parameter names are the backbone's under "backbone." and each of
// the method's child modules under its own name ("head." for the projector, as in every
// checkpoint since the first), so checkpoints from before the method seam still load.
class ContrastiveModelImpl : public torch::nn::Module {
 public:
  ContrastiveModelImpl(std::shared_ptr<BackboneImpl> backbone, std::shared_ptr<MethodImpl> method);
  torch::Tensor features(torch::Tensor x) { return backbone_->forward(x); }
  torch::Tensor forward(torch::Tensor x) { return method_->projection(*backbone_, x); }
  BackboneImpl& backbone() { return *backbone_; }
  MethodImpl& method() { return *method_; }
  MethodOutput loss(const ViewBatch& views, const MethodStep& step) {
    return method_->loss(*backbone_, views, step);
  }

 private:
  std::shared_ptr<BackboneImpl> backbone_;
  std::shared_ptr<MethodImpl> method_;
};
TORCH_MODULE(ContrastiveModel);

}  // namespace studio
