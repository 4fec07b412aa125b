#pragma once
// The optimizer of a run: SGD with momentum, AdamW or LARS, with linear warm-up then
// cosine decay, and no weight decay on norm weights and biases (1-D parameters). The
// encoder's parameters ("backbone.*") can learn at a multiple of the rate
// (optim.backbone_lr_mult); frozen parameters (requires_grad false) are not optimised.
#include <cstdint>
#include <memory>
#include <vector>

#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <torch/serialize/archive.h>

#include "core/experiment/config.h"

namespace studio {

class TrainingOptimizer {
 public:
  TrainingOptimizer(const OptimConfig& config, torch::nn::Module& model, int64_t steps_per_epoch, int64_t total_steps);

  double lrAt(int64_t step) const;  // the schedule, for step 0..total_steps-1
  void zeroGrad();
  // Sets the learning rate for `step`, applies LARS' layer-wise scaling if chosen, steps.
  void step(int64_t step);

  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

  // AdamW's update as torch's fused multi-tensor kernel (one pass over the parameters, a
  // couple of kernels on a GPU instead of several per parameter), on the state the
  // LibTorch AdamW keeps, so checkpoints do not change. On by default; the LibTorch loop is
  // the reference the tests compare it to.
  void setFusedAdamW(bool on) { fused_adamw_ = on; }

 private:
  bool stepFusedAdamW();

  OptimConfig config_;
  int64_t warmup_steps_, total_steps_;
  std::vector<torch::Tensor> decay_, no_decay_;
  std::vector<double> group_lr_mult_;  // per param group, in the optimizer's order
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  bool fused_adamw_ = true;
};

}  // namespace studio
