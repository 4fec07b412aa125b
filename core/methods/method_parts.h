#pragma once
// What the methods share: the encoders' pass under the step's autocast, EMA targets (a copy
// of the online network that follows it), and the spec-building shorthand.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/nn/module.h>
#include <torch/types.h>

#include "core/device/autocast_scope.h"
#include "core/methods/losses.h"
#include "core/methods/methods.h"

namespace studio {

// head(backbone(x)) under bf16 autocast when the step asks for it.
template <typename Head>
torch::Tensor encodeViews(BackboneImpl& backbone, Head& head, const torch::Tensor& x, const MethodStep& step) {
  AutocastScope autocast(step.device_type, torch::kBFloat16, step.bf16);
  return head->forward(backbone.forward(x));
}

// encode applied to the global views and, in a pass of its own (they are smaller), to the
// local ones, split into one [N, D] output per view: the two global views, then the local ones.
template <typename Encode>
std::vector<torch::Tensor> perView(const ViewBatch& views, Encode&& encode) {
  std::vector<torch::Tensor> out = encode(views.global).chunk(2, 0);
  if (views.local.defined())
    for (auto& part : encode(views.local).chunk(views.localCount(), 0)) out.push_back(part);
  return out;
}

// The global views of a method that compares exactly two views (its spec says MultiCrop::No;
// the config check keeps local views away from it).
const torch::Tensor& twoViewsOnly(const ViewBatch& views, const std::string& method);

inline void markForwardDone(const MethodStep& step) {
  if (step.forward_done) step.forward_done();
}

// Parameters then buffers of a module, in registration order.
std::vector<torch::Tensor> tensorsOf(torch::nn::Module& module);

// to := from, tensor by tensor (same architecture); to's parameters then take no gradient
// (an EMA target is not optimised, and the optimizer skips what takes no gradient).
void copyInto(torch::nn::Module& from, torch::nn::Module& to);

// target := momentum * target + (1 - momentum) * online over the parameters (buffers such as
// batch-norm statistics are the target's own, as in BYOL's and lightly's update).
void followOnline(torch::nn::Module& target, torch::nn::Module& online, double momentum);

// An EMA copy of the online backbone and head: MoCo's key encoder, BYOL's target, DINO's
// teacher. The method registers both parts (so checkpoints hold them) and calls these two.
template <typename Head>
struct EmaTarget {
  std::shared_ptr<BackboneImpl> backbone;
  Head head{nullptr};
  double base_momentum = 0.99;

  void copyFrom(BackboneImpl& online, Head& online_head) {
    copyInto(online, *backbone);
    copyInto(*online_head, *head);
  }
  // After step steps_done of total_steps: the momentum rises from its base to 1 along a cosine.
  void follow(BackboneImpl& online, Head& online_head, int64_t steps_done, int64_t total_steps) {
    const double m = cosineSchedule(steps_done - 1, total_steps, base_momentum, 1.0);
    followOnline(*backbone, online, m);
    followOnline(*head, *online_head, m);
  }
};

MethodSetting realSetting(std::string key, double value, double min, double max, std::string help);
MethodSetting integerSetting(std::string key, int64_t value, int64_t min, int64_t max, std::string help);

// The registry's entries: one function per method file.
MethodSpec simclrMethod();
MethodSpec dclMethod();
MethodSpec dclwMethod();
MethodSpec mocoMethod();
MethodSpec byolMethod();
MethodSpec simsiamMethod();
MethodSpec barlowTwinsMethod();
MethodSpec vicregMethod();
MethodSpec dinoMethod();

}  // namespace studio
