// BYOL (Grill et al. 2020): the online network, through a predictor, regresses the projection
// of an EMA target network of the other view; no negatives. The target's momentum rises from
// its base to 1 along a cosine over the run.
#include <torch/torch.h>

#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class ByolImpl : public MethodImpl {
 public:
  explicit ByolImpl(const MethodBuild& b) {
    const int64_t out = b.model.head_dims.back();
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
    predictor_ = register_module("predictor", ProjectionHead(out, std::vector<int64_t>{b.values.integer("predictor_hidden"), out}));
    target_.base_momentum = b.values("momentum");
    target_.backbone = register_module("target_backbone", b.make_backbone());
    target_.head = register_module("target_head", ProjectionHead(b.feature_dim, b.model.head_dims));
  }
  std::string name() const override { return "byol"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  bool capturable() const override { return false; }

  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const auto p = perView(views, [&](const torch::Tensor& x) {
      AutocastScope autocast(step.device_type, torch::kBFloat16, step.bf16);
      return predictor_->forward(head_->forward(online.forward(x)));
    });
    std::vector<torch::Tensor> t;  // the target sees the global views only
    {
      torch::NoGradGuard no_grad;
      t = encodeViews(*target_.backbone, target_.head, views.global, step).chunk(2, 0);
    }
    markForwardDone(step);
    return {meanOverTargetPairs(p, t, negativeCosineSimilarity), {}};
  }

  void afterStep(BackboneImpl& online, int64_t steps_done, int64_t total_steps) override {
    target_.follow(online, head_, steps_done, total_steps);
  }

  void startFrom(BackboneImpl& online) override {
    target_.copyFrom(online, head_);
  }

 private:
  ProjectionHead head_{nullptr}, predictor_{nullptr};
  EmaTarget<ProjectionHead> target_;
};

}  // namespace

MethodSpec byolMethod() {
  return {"byol", "BYOL",
          "predicts a slowly moving target network's projection of the other view; no negatives, works at small batches",
          "A higher target momentum (method.byol.momentum, e.g. 0.996), a lower learning rate or stronger "
          "augmentations usually fix it.",
          MultiCrop::GlobalToLocal,
          {realSetting("momentum", 0.99, 0.0, 1.0,
                       "EMA momentum of the target network at the start; it rises to 1 along a cosine"),
           integerSetting("predictor_hidden", 512, 2, 16384, "hidden width of the predictor")},
          [](const MethodBuild& b) { return std::make_shared<ByolImpl>(b); }};
}

}  // namespace studio
