// SimCLR (Chen et al. 2020): one encoder and projection head; each view's positive is the
// other view of its image, every other view in the batch a negative (NT-Xent).
#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

class SimClrImpl : public MethodImpl {
 public:
  explicit SimClrImpl(const MethodBuild& b) : temperature_(b.values("temperature")) {
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
  }
  std::string name() const override { return "simclr"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  std::vector<std::string> metricNames() const override { return {"pos_acc"}; }
  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const auto z = perView(views, [&](const torch::Tensor& x) { return encodeViews(online, head_, x, step); });
    markForwardDone(step);
    // The loss in float32, outside autocast: cosine similarities over a temperature need
    // more than bf16's 8 bits. With local views, the mean over every pair of views.
    torch::Tensor pos_accuracy;
    const auto loss = meanOverViewPairs(z, [&](const torch::Tensor& a, const torch::Tensor& b) {
      NtXentResult r = ntXentLoss(torch::cat({a, b}), temperature_);
      if (!pos_accuracy.defined()) pos_accuracy = r.pos_accuracy;  // the first pair: the two global views
      return r.loss;
    });
    return {loss, {pos_accuracy}};
  }

 private:
  double temperature_;
  ProjectionHead head_{nullptr};
};

}  // namespace

MethodSpec simclrMethod() {
  return {"simclr", "SimCLR",
          "contrasts each image's two views against every other view in the batch; the reference method, "
          "best with large batches",
          "A higher temperature (method.simclr.temperature), a lower learning rate or stronger augmentations usually "
          "fix it.",
          MultiCrop::AllPairs,
          {realSetting("temperature", 0.5, 0.01, 10.0, "softmax temperature of the contrastive loss")},
          [](const MethodBuild& b) { return std::make_shared<SimClrImpl>(b); }};
}

}  // namespace studio
