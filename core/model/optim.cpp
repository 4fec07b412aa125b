#include "core/model/optim.h"

#include <torch/torch.h>

#include <cmath>

#include "core/base/error.h"

namespace studio {

TrainingOptimizer::TrainingOptimizer(const OptimConfig& config, torch::nn::Module& model, int64_t steps_per_epoch,
                                     int64_t total_steps)
    : config_(config), total_steps_(std::max<int64_t>(1, total_steps)) {
  warmup_steps_ = std::min<int64_t>(total_steps_, static_cast<int64_t>(std::llround(config.warmup_epochs * steps_per_epoch)));
  // Groups by (part, decay): the encoder ("backbone.*") gets its own learning-rate
  // multiplier when one is set; frozen parameters (requires_grad false) are left out.
  const bool split = config.backbone_lr_mult != 1.0;
  std::vector<torch::Tensor> parts[2][2];  // [backbone?][decay?]
  for (auto& item : model.named_parameters()) {
    auto& p = item.value();
    if (!p.requires_grad()) continue;
    const bool backbone = split && item.key().rfind("backbone.", 0) == 0;
    const bool decay = p.dim() > 1;
    parts[backbone][decay].push_back(p);
    (decay ? decay_ : no_decay_).push_back(p);
  }

  const bool lars = config.name == OptimizerKind::Lars;
  std::vector<torch::optim::OptimizerParamGroup> groups;
  for (int backbone = 1; backbone >= 0; --backbone) {
    for (int decay = 1; decay >= 0; --decay) {
      auto& params = parts[backbone][decay];
      if (params.empty()) continue;
      // LARS' weight decay enters the rescaled gradient (see step()), so its SGD groups carry none.
      const double wd = decay && !lars ? config.weight_decay : 0.0;
      if (config.name == OptimizerKind::AdamW) {
        auto options = std::make_unique<torch::optim::AdamWOptions>(config.lr);
        options->weight_decay(wd);
        groups.emplace_back(params, std::move(options));
      } else {
        auto options = std::make_unique<torch::optim::SGDOptions>(config.lr);
        options->momentum(config.momentum).weight_decay(wd);
        groups.emplace_back(params, std::move(options));
      }
      group_lr_mult_.push_back(backbone ? config.backbone_lr_mult : 1.0);
    }
  }
  if (groups.empty()) throwBadInput("config: every parameter of the model is frozen: nothing to train");
  if (config.name == OptimizerKind::AdamW)
    optimizer_ = std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(config.lr));
  else
    optimizer_ = std::make_unique<torch::optim::SGD>(groups, torch::optim::SGDOptions(config.lr).momentum(config.momentum));
}

double TrainingOptimizer::lrAt(int64_t step) const {
  if (step < warmup_steps_) return config_.lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps_);
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps_ - warmup_steps_));
  const double progress = std::min(1.0, static_cast<double>(step - warmup_steps_) / span);
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return config_.lr * (config_.min_lr_ratio + (1.0 - config_.min_lr_ratio) * cosine);
}

void TrainingOptimizer::zeroGrad() { optimizer_->zero_grad(); }

void TrainingOptimizer::step(int64_t step) {
  const double lr = lrAt(step);
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(lr * group_lr_mult_[i]);
  if (config_.name == OptimizerKind::Lars) {
    torch::NoGradGuard no_grad;
    for (auto& p : decay_) {
      if (!p.grad().defined()) continue;
      auto g = p.grad();
      g.add_(p, config_.weight_decay);
      const double w_norm = p.norm().item<double>(), g_norm = g.norm().item<double>();
      if (w_norm > 0 && g_norm > 0) g.mul_(config_.lars_eta * w_norm / g_norm);
    }
  }
  if (config_.name == OptimizerKind::AdamW && fused_adamw_ && stepFusedAdamW()) return;
  optimizer_->step();
}

bool TrainingOptimizer::stepFusedAdamW() {
  auto& adamw = static_cast<torch::optim::AdamW&>(*optimizer_);
  // The fused kernel walks parameter, gradient and moments as one flat buffer each: their
  // layouts must agree (they do unless a checkpoint brought moments in another layout).
  for (auto& group : adamw.param_groups()) {
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      if (p.grad().strides() != p.strides() || !p.is_non_overlapping_and_dense()) return false;
      auto it = adamw.state().find(p.unsafeGetTensorImpl());
      if (it != adamw.state().end()) {
        const auto& s = static_cast<const torch::optim::AdamWParamState&>(*it->second);
        if (s.exp_avg().strides() != p.strides() || s.exp_avg_sq().strides() != p.strides()) return false;
      }
    }
  }
  torch::NoGradGuard no_grad;
  for (auto& group : adamw.param_groups()) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    TORCH_CHECK(!o.amsgrad(), "fused AdamW: amsgrad is not used by the studio");
    std::vector<torch::Tensor> params, grads, avgs, sqs;
    int64_t step = 0;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      auto& slot = adamw.state()[p.unsafeGetTensorImpl()];
      if (!slot) {  // as LibTorch's AdamW creates it on a parameter's first step
        auto state = std::make_unique<torch::optim::AdamWParamState>();
        state->step(0);
        state->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        state->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        slot = std::move(state);
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*slot);
      s.step(s.step() + 1);
      step = s.step();  // the same for every parameter of the run
      params.push_back(p);
      grads.push_back(p.grad());
      avgs.push_back(s.exp_avg());
      sqs.push_back(s.exp_avg_sq());
    }
    if (params.empty()) continue;
    // One step count for the whole group, on the parameters' device, read by the kernel.
    const auto count = torch::full({}, static_cast<double>(step), params[0].options().dtype(torch::kFloat32));
    const std::vector<torch::Tensor> steps(params.size(), count);
    at::_fused_adamw_(params, grads, avgs, sqs, {}, steps, o.lr(), std::get<0>(o.betas()), std::get<1>(o.betas()),
                      o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false);
  }
  return true;
}

void TrainingOptimizer::save(torch::serialize::OutputArchive& archive) const { optimizer_->save(archive); }
void TrainingOptimizer::load(torch::serialize::InputArchive& archive) { optimizer_->load(archive); }

}  // namespace studio
