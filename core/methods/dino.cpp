// DINO (Caron et al. 2021): self-distillation without labels. A student network matches the
// output distribution of an EMA teacher over the other view; the teacher's outputs are
// centred (a running mean, against one dimension taking over) and sharpened (a low
// temperature, against a uniform output). The head: an MLP to a bottleneck, L2-normalised,
// then a weight-normalised layer of prototypes.
#include <torch/torch.h>

#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {
namespace {

namespace nn = torch::nn;

class DinoHeadImpl : public nn::Module {
 public:
  // dims: hidden widths..., bottleneck width (model.head_dims); prototypes: output width.
  DinoHeadImpl(int64_t in_dim, const std::vector<int64_t>& dims, int64_t prototypes) {
    nn::Sequential mlp;
    int64_t in = in_dim;
    for (size_t i = 0; i + 1 < dims.size(); ++i) {
      mlp->push_back(nn::Linear(in, dims[i]));
      mlp->push_back(nn::BatchNorm1d(dims[i]));
      mlp->push_back(nn::GELU());
      in = dims[i];
    }
    mlp->push_back(nn::Linear(in, dims.back()));
    mlp_ = register_module("mlp", mlp);
    prototypes_ = register_parameter("prototypes", torch::empty({prototypes, dims.back()}));
    // DINO's initialisation: truncated normal weights (std 0.02), zero biases.
    torch::NoGradGuard no_grad;
    for (auto& p : named_parameters()) {
      if (p.key().find("bias") != std::string::npos) p.value().zero_();
      else if (p.value().dim() == 2) p.value().normal_(0.0, 0.02).clamp_(-0.04, 0.04);
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    namespace F = nn::functional;
    const auto unit = F::normalize(mlp_->forward(x), F::NormalizeFuncOptions().dim(1));
    // Weight normalisation with its gain fixed at 1: each prototype a unit vector.
    return torch::mm(unit, F::normalize(prototypes_, F::NormalizeFuncOptions().dim(1)).t());
  }

 private:
  nn::Sequential mlp_{nullptr};
  torch::Tensor prototypes_;
};
TORCH_MODULE(DinoHead);

class CenterImpl : public nn::Module {
 public:
  explicit CenterImpl(int64_t dim) { value = register_buffer("value", torch::zeros({1, dim})); }
  torch::Tensor value;
};
TORCH_MODULE(Center);

class DinoImpl : public MethodImpl {
 public:
  explicit DinoImpl(const MethodBuild& b)
      : student_temperature_(b.values("student_temperature")),
        teacher_temperature_(b.values("teacher_temperature")),
        warmup_temperature_(b.values("warmup_teacher_temperature")),
        warmup_epochs_(b.values.integer("warmup_teacher_epochs")),
        center_momentum_(b.values("center_momentum")) {
    const int64_t prototypes = b.values.integer("prototypes");
    head_ = register_module("head", DinoHead(b.feature_dim, b.model.head_dims, prototypes));
    target_.base_momentum = b.values("momentum");
    target_.backbone = register_module("target_backbone", b.make_backbone());
    target_.head = register_module("target_head", DinoHead(b.feature_dim, b.model.head_dims, prototypes));
    center_ = register_module("center", Center(prototypes));
  }
  std::string name() const override { return "dino"; }
  torch::Tensor projection(BackboneImpl& online, const torch::Tensor& images) override {
    return head_->forward(online.forward(images));
  }
  std::vector<std::string> metricNames() const override { return {"teacher_temperature"}; }
  bool capturable() const override { return false; }

  // Linear from the warm-up temperature over the warm-up epochs, as DINO's schedule.
  double teacherTemperature(int64_t epoch) const {
    if (epoch >= warmup_epochs_) return teacher_temperature_;
    if (warmup_epochs_ <= 1) return warmup_temperature_;
    return warmup_temperature_ + (teacher_temperature_ - warmup_temperature_) * double(epoch) / double(warmup_epochs_ - 1);
  }

  MethodOutput loss(BackboneImpl& online, const ViewBatch& views, const MethodStep& step) override {
    // The student sees every view, the teacher the global ones only (DINO's multi-crop).
    const auto s = perView(views, [&](const torch::Tensor& x) { return encodeViews(online, head_, x, step); });
    torch::Tensor t;
    {
      torch::NoGradGuard no_grad;
      t = encodeViews(*target_.backbone, target_.head, views.global, step).to(torch::kFloat32);
    }
    markForwardDone(step);
    const double tt = teacherTemperature(step.step / std::max<int64_t>(1, step.steps_per_epoch));
    const auto loss = dinoLoss(t.chunk(2, 0), s, center_->value, tt, student_temperature_);
    pending_center_ = t.mean(0, /*keepdim=*/true);
    return {loss, {torch::full({}, tt, torch::TensorOptions().dtype(torch::kFloat32).device(t.device()))}};
  }

  void afterStep(BackboneImpl& online, int64_t steps_done, int64_t total_steps) override {
    if (pending_center_.defined()) {
      torch::NoGradGuard no_grad;
      center_->value.mul_(center_momentum_).add_(pending_center_, 1.0 - center_momentum_);
      pending_center_ = torch::Tensor();
    }
    target_.follow(online, head_, steps_done, total_steps);
  }

  void startFrom(BackboneImpl& online) override {
    target_.copyFrom(online, head_);
  }

 private:
  double student_temperature_, teacher_temperature_, warmup_temperature_;
  int64_t warmup_epochs_;
  double center_momentum_;
  DinoHead head_{nullptr};
  EmaTarget<DinoHead> target_;
  Center center_{nullptr};
  torch::Tensor pending_center_;  // this step's teacher mean, folded in after the optimizer's step
};

}  // namespace

MethodSpec dinoMethod() {
  return {"dino", "DINO",
          "a student matches a slowly moving teacher's sharpened, centred output over the other view; no negatives",
          "A lower teacher temperature (method.dino.teacher_temperature), a higher teacher momentum or a lower "
          "learning rate usually fixes it.",
          MultiCrop::GlobalToLocal,
          {integerSetting("prototypes", 2048, 16, 65536, "output width of the head (DINO's K; 65536 on ImageNet)"),
           realSetting("student_temperature", 0.1, 0.001, 10.0, "temperature of the student's softmax"),
           realSetting("teacher_temperature", 0.04, 0.001, 10.0, "temperature of the teacher's softmax after warm-up"),
           realSetting("warmup_teacher_temperature", 0.04, 0.001, 10.0, "the teacher's temperature at the first epoch"),
           integerSetting("warmup_teacher_epochs", 0, 0, 10000, "epochs over which the teacher's temperature moves"),
           realSetting("center_momentum", 0.9, 0.0, 1.0, "momentum of the running centre of the teacher's outputs"),
           realSetting("momentum", 0.996, 0.0, 1.0,
                       "EMA momentum of the teacher at the start; it rises to 1 along a cosine")},
          [](const MethodBuild& b) { return std::make_shared<DinoImpl>(b); }};
}

}  // namespace studio
