// VICReg (Bardes et al. 2022): invariance between the views' projections, a hinge keeping
// each dimension's standard deviation up (against collapse) and a covariance penalty
// decorrelating the dimensions. No negatives, no momentum network.
#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class VicregImpl : public MethodImpl {
 public:
  explicit VicregImpl(const MethodBuild& b)
      : invariance_(b.values("invariance_weight")),
        variance_(b.values("variance_weight")),
        covariance_(b.values("covariance_weight")),
        eps_(b.values("eps")) {
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
  }
  std::string name() const override { return "vicreg"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const torch::Tensor z = encodeViews(online, head_, twoViewsOnly(views, "VICReg"), step);
    markForwardDone(step);
    const auto zs = z.chunk(2, 0);
    return {vicregLoss(zs[0], zs[1], invariance_, variance_, covariance_, eps_), {}};
  }

 private:
  double invariance_, variance_, covariance_, eps_;
  ProjectionHead head_{nullptr};
};

}  // namespace

MethodSpec vicregMethod() {
  return {"vicreg", "VICReg",
          "keeps the views' projections close while holding every dimension's variance up and their covariance down",
          "A higher variance weight (method.vicreg.variance_weight) or a lower learning rate usually fixes it.",
          MultiCrop::No,
          {realSetting("invariance_weight", 25.0, 0.0, 1000.0, "weight of the views' mean squared distance"),
           realSetting("variance_weight", 25.0, 0.0, 1000.0, "weight of the standard-deviation hinge"),
           realSetting("covariance_weight", 1.0, 0.0, 1000.0, "weight of the off-diagonal covariance"),
           realSetting("eps", 1e-4, 1e-12, 1.0, "added to the variance under the square root")},
          [](const MethodBuild& b) { return std::make_shared<VicregImpl>(b); }};
}

}  // namespace studio
