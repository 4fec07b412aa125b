// Decoupled contrastive learning (Yeh et al. 2021): SimCLR's loss without the positive pair
// in the denominator, which removes the coupling that makes SimCLR need large batches; DCLW
// weighs each positive by how hard it is (a negative von Mises-Fisher weight).
#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class DclImpl : public MethodImpl {
 public:
  DclImpl(const MethodBuild& b, std::string name, double sigma)
      : name_(std::move(name)), temperature_(b.values("temperature")), sigma_(sigma) {
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
  }
  std::string name() const override { return name_; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  std::vector<std::string> metricNames() const override { return {"pos_acc"}; }
  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const auto z = perView(views, [&](const torch::Tensor& x) { return encodeViews(online, head_, x, step); });
    markForwardDone(step);
    const auto loss = meanOverViewPairs(
        z, [&](const torch::Tensor& a, const torch::Tensor& b) { return dclLoss(a, b, temperature_, sigma_); });
    return {loss, {pairAccuracy(torch::cat({z[0], z[1]}))}};
  }

 private:
  std::string name_;
  double temperature_, sigma_;
  ProjectionHead head_{nullptr};
};

MethodSetting temperatureSetting() {
  return realSetting("temperature", 0.1, 0.01, 10.0, "softmax temperature of the contrastive loss");
}

}  // namespace

MethodSpec dclMethod() {
  return {"dcl", "DCL",
          "SimCLR's loss without the positive in the denominator: learns well at small batch sizes",
          "A higher temperature (method.dcl.temperature) or a lower learning rate usually fixes it.",
          MultiCrop::AllPairs,
          {temperatureSetting()},
          [](const MethodBuild& b) { return std::make_shared<DclImpl>(b, "dcl", 0.0); }};
}

MethodSpec dclwMethod() {
  return {"dclw", "DCLW",
          "DCL with each positive pair weighted by its difficulty (negative von Mises-Fisher weights)",
          "A higher temperature (method.dclw.temperature) or a lower learning rate usually fixes it.",
          MultiCrop::AllPairs,
          {temperatureSetting(),
           realSetting("sigma", 0.5, 0.01, 10.0, "scale of the positive pairs' weighting (smaller = sharper)")},
          [](const MethodBuild& b) { return std::make_shared<DclImpl>(b, "dclw", b.values("sigma")); }};
}

}  // namespace studio
