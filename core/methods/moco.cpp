// MoCo v2 (He et al. 2020; Chen et al. 2020): queries from the online encoder, keys from a
// momentum (EMA) copy of it, and negatives from a queue of earlier keys, so the negatives are
// many while the batch stays small. Symmetrised: each view is once the query, once the key.
#include <torch/torch.h>

#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

// The queue of keys, L2-normalised, oldest overwritten first, and where the next goes.
class KeyQueueImpl : public torch::nn::Module {
 public:
  KeyQueueImpl(int64_t size, int64_t dim) {
    // Random unit vectors until real keys replace them, as in MoCo.
    keys = register_buffer("keys", torch::nn::functional::normalize(torch::randn({size, dim}),
                                                                     torch::nn::functional::NormalizeFuncOptions().dim(1)));
    pointer = register_buffer("pointer", torch::zeros({1}, torch::kLong));
  }
  torch::Tensor keys, pointer;
};
TORCH_MODULE(KeyQueue);

class MocoImpl : public MethodImpl {
 public:
  explicit MocoImpl(const MethodBuild& b)
      : temperature_(b.values("temperature")) {
    head_ = register_module("head", ProjectionHead(b.feature_dim, b.model.head_dims));
    target_.base_momentum = b.values("momentum");
    target_.backbone = register_module("target_backbone", b.make_backbone());
    target_.head = register_module("target_head", ProjectionHead(b.feature_dim, b.model.head_dims));
    queue_ = register_module("queue", KeyQueue(b.values.integer("queue_size"), b.model.head_dims.back()));
  }
  std::string name() const override { return "moco"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  std::vector<std::string> metricNames() const override { return {"pos_acc"}; }
  bool capturable() const override { return false; }

  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    const torch::Tensor& two = twoViewsOnly(views, "MoCo");
    const torch::Tensor q = encodeViews(online, head_, two, step);
    torch::Tensor k;
    {
      torch::NoGradGuard no_grad;
      k = torch::nn::functional::normalize(encodeViews(*target_.backbone, target_.head, two, step).to(torch::kFloat32),
                                           torch::nn::functional::NormalizeFuncOptions().dim(1));
    }
    markForwardDone(step);
    const auto qs = q.chunk(2, 0), ks = k.chunk(2, 0);
    torch::Tensor acc0, acc1;
    const auto loss = 0.5 * (queueContrastLoss(qs[0], ks[1], queue_->keys, temperature_, &acc0) +
                             queueContrastLoss(qs[1], ks[0], queue_->keys, temperature_, &acc1));
    pending_keys_ = k;
    return {loss, {0.5 * (acc0 + acc1)}};
  }

  void afterStep(BackboneImpl& online, int64_t steps_done, int64_t total_steps) override {
    if (pending_keys_.defined()) {
      const int64_t pointer = pushToQueue(queue_->keys, queue_->pointer.item<int64_t>(), pending_keys_);
      queue_->pointer.fill_(pointer);
      pending_keys_ = torch::Tensor();
    }
    target_.follow(online, head_, steps_done, total_steps);
  }

  void startFrom(BackboneImpl& online) override {
    target_.copyFrom(online, head_);
  }

 private:
  double temperature_;
  ProjectionHead head_{nullptr};
  EmaTarget<ProjectionHead> target_;
  KeyQueue queue_{nullptr};
  torch::Tensor pending_keys_;  // this step's keys, queued after the optimizer's step
};

}  // namespace

MethodSpec mocoMethod() {
  return {"moco", "MoCo v2",
          "contrasts against a queue of keys from a slowly moving copy of the encoder: many negatives at a small batch",
          "A higher momentum (method.moco.momentum), a higher temperature or a lower learning rate usually fixes it.",
          MultiCrop::No,
          {realSetting("temperature", 0.2, 0.01, 10.0, "softmax temperature of the contrastive loss"),
           integerSetting("queue_size", 4096, 16, 1 << 20, "keys kept as negatives (a few times the batch or more)"),
           realSetting("momentum", 0.99, 0.0, 1.0,
                       "EMA momentum of the key encoder at the start; it rises to 1 along a cosine")},
          [](const MethodBuild& b) { return std::make_shared<MocoImpl>(b); }};
}

}  // namespace studio
