// Barlow Twins (Zbontar et al. 2021): the cross-correlation of the two views' projections,
// each dimension standardised over the batch, is pushed to the identity: invariant dimensions
// that carry different information. No negatives; a wide projector helps.
#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class BarlowTwinsImpl : public MethodImpl {
 public:
  explicit BarlowTwinsImpl(const MethodBuild& b) : lambda_(b.values("lambda")) {
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
    // 0 = 1/d: the weight that keeps the d(d-1) off-diagonal terms on the scale of the d
    // diagonal ones at any projection width. The paper's 5e-3 was tuned at d = 8192; at this
    // studio's 32 to 128 dimensions it leaves the redundancy term too weak to matter (on
    // Fashion-MNIST at d = 32: kNN +0.7 points over the untrained encoder, against +2.9 with 1/d).
    if (lambda_ <= 0) lambda_ = 1.0 / double(b.model.head_dims.back());
  }
  std::string name() const override { return "barlow_twins"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const torch::Tensor z = encodeViews(online, head_, twoViewsOnly(views, "Barlow Twins"), step);
    markForwardDone(step);
    const auto zs = z.chunk(2, 0);
    return {barlowTwinsLoss(zs[0], zs[1], lambda_), {}};
  }

 private:
  double lambda_;
  ProjectionHead head_{nullptr};
};

}  // namespace

MethodSpec barlowTwinsMethod() {
  return {"barlow_twins", "Barlow Twins",
          "makes the two views' projections agree dimension by dimension and decorrelates the dimensions; no negatives",
          "A lower learning rate or a wider projector (model.head_dims) usually fixes it.",
          MultiCrop::No,
          {realSetting("lambda", 0.0, 0.0, 1.0,
                       "weight of the off-diagonal (redundancy) terms; 0 = 1/d for a d-dimensional projection "
                       "(the paper's 5e-3 suits d = 8192)")},
          [](const MethodBuild& b) { return std::make_shared<BarlowTwinsImpl>(b); }};
}

}  // namespace studio
