// SimSiam (Chen & He 2021): BYOL without the target network: the predictor regresses the
// other view's projection with the gradient stopped there. The projector ends in a batch norm.
#include <torch/torch.h>

#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class SimSiamImpl : public MethodImpl {
 public:
  explicit SimSiamImpl(const MethodBuild& b) {
    const int64_t out = b.model.head_dims.back();
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims, /*output_norm=*/true));
    predictor_ = register_module("predictor", ProjectionHead(out, std::vector<int64_t>{b.values.integer("predictor_hidden"), out}));
  }
  std::string name() const override { return "simsiam"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }

  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    // Projections and predictions of each view; the global views' projections, their gradient
    // stopped, are the targets.
    std::vector<torch::Tensor> z, p;
    auto pass = [&](const torch::Tensor& x, int64_t views_in_pass) {
      AutocastScope autocast(step.device_type, torch::kBFloat16, step.bf16);
      const auto projection = head_->forward(online.forward(x));
      for (auto& part : projection.detach().chunk(views_in_pass, 0)) z.push_back(part);
      for (auto& part : predictor_->forward(projection).chunk(views_in_pass, 0)) p.push_back(part);
    };
    pass(views.global, 2);
    if (views.local.defined()) pass(views.local, views.localCount());
    markForwardDone(step);
    return {meanOverTargetPairs(p, {z[0], z[1]}, negativeCosineSimilarity), {}};
  }

 private:
  ProjectionHead head_{nullptr}, predictor_{nullptr};
};

}  // namespace

MethodSpec simsiamMethod() {
  return {"simsiam", "SimSiam",
          "predicts the other view's projection with its gradient stopped; no negatives and no momentum network",
          "A lower learning rate, more weight decay or a narrower predictor (method.simsiam.predictor_hidden) usually "
          "fixes it.",
          MultiCrop::GlobalToLocal,
          {integerSetting("predictor_hidden", 64, 2, 16384,
                          "hidden width of the predictor (a bottleneck: about a quarter of the projection)")},
          [](const MethodBuild& b) { return std::make_shared<SimSiamImpl>(b); }};
}

}  // namespace studio
