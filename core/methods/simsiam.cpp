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

  MethodOutput loss(BackboneImpl& online, const torch::Tensor& views, const MethodStep& step) override {
    torch::Tensor z, p;
    {
      AutocastScope autocast(step.device_type, torch::kBFloat16, step.bf16);
      z = head_->forward(online.forward(views));
      p = predictor_->forward(z);
    }
    markForwardDone(step);
    const auto zs = z.detach().chunk(2, 0), ps = p.chunk(2, 0);
    return {0.5 * (negativeCosineSimilarity(ps[0], zs[1]) + negativeCosineSimilarity(ps[1], zs[0])), {}};
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
          {integerSetting("predictor_hidden", 64, 2, 16384,
                          "hidden width of the predictor (a bottleneck: about a quarter of the projection)")},
          [](const MethodBuild& b) { return std::make_shared<SimSiamImpl>(b); }};
}

}  // namespace studio
