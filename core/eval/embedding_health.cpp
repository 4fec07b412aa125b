#include "core/eval/embedding_health.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace F = torch::nn::functional;

namespace studio {

namespace {
torch::Tensor unitRows(const torch::Tensor& x) {
  return F::normalize(x.to(torch::kCPU, torch::kDouble), F::NormalizeFuncOptions().dim(1));
}
}  // namespace

void EmbeddingHealth::appendTo(std::vector<std::pair<std::string, double>>& values) const {
  if (!measured()) return;
  values.emplace_back("embedding_std", std);
  values.emplace_back("embedding_spread", spread);
  values.emplace_back("effective_rank", effective_rank);
  values.emplace_back("embedding_dims", double(dims));
  values.emplace_back("collapsing", collapsing() ? 1.0 : 0.0);
  if (!std::isnan(alignment)) values.emplace_back("alignment", alignment);
  if (!std::isnan(uniformity)) values.emplace_back("uniformity", uniformity);
}

EmbeddingHealth measureEmbeddingHealth(const torch::Tensor& embeddings, const torch::Tensor& view_a,
                                       const torch::Tensor& view_b, int64_t max_rows) {
  torch::NoGradGuard no_grad;
  EmbeddingHealth h;
  if (!embeddings.defined() || embeddings.dim() != 2 || embeddings.size(0) < 2 || embeddings.size(1) < 1) return h;
  // Double precision: the statistics are means over up to millions of terms, and these few
  // thousand rows cost nothing next to the forward passes that produced them.
  const auto z = unitRows(embeddings);
  h.rows = z.size(0);
  h.dims = z.size(1);
  h.std = z.std(0, /*unbiased=*/true).mean().item<double>();
  h.spread = h.std * std::sqrt(double(h.dims));

  // RankMe: p_k = s_k / sum(s) (+ eps, as in the paper, so that zero singular values count 0).
  const auto s = torch::linalg_svdvals(z);
  const auto p = s / s.sum().clamp_min(1e-30) + 1e-7;
  h.effective_rank = std::exp(-(p * p.log()).sum().item<double>());

  const auto u = z.slice(0, 0, std::min(h.rows, max_rows));
  const auto sq = torch::pdist(u).pow(2);  // every pair i < j once
  h.uniformity = sq.mul(-2.0).exp().mean().log().item<double>();

  if (view_a.defined() && view_b.defined() && view_a.sizes() == view_b.sizes() && view_a.size(0) > 0)
    h.alignment = (unitRows(view_a) - unitRows(view_b)).pow(2).sum(1).mean().item<double>();
  return h;
}

std::pair<torch::Tensor, torch::Tensor> embedViewPairs(ContrastiveModel& model, const Augmenter& augmenter,
                                                       const torch::Tensor& images, const torch::Device& device,
                                                       int64_t seed, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  // Its own stream of draws: the same views at every evaluation, none of training's.
  auto gen = makeStepGenerator(seed, 0, /*stream=*/9);
  std::vector<torch::Tensor> a, b;
  for (int64_t start = 0; start < images.size(0); start += batch_size) {
    const auto batch = images.slice(0, start, std::min(images.size(0), start + batch_size)).to(device);
    for (auto* out : {&a, &b}) {
      const auto views = augmenter.apply(batch, augmenter.sample(batch.size(0), gen));
      out->push_back(
          F::normalize(model->features(views).to(torch::kFloat32), F::NormalizeFuncOptions().dim(1)).cpu());
    }
  }
  model->train(was_training);
  if (a.empty()) return {};
  return {torch::cat(a), torch::cat(b)};
}

std::string collapseWarning(const EmbeddingHealth& h, const std::string& method_title, const std::string& method_hint) {
  if (!h.collapsing()) return {};
  char numbers[200];
  std::snprintf(numbers, sizeof numbers,
                "spread %.3f (healthy encoders measure 0.2 to 1; 0 is a single point), effective rank %.1f of %lld",
                h.spread, h.effective_rank, static_cast<long long>(std::min(h.rows, h.dims)));
  std::string text = "warning: the " + method_title +
                     " embeddings are collapsing: different images are mapped to nearly the same point, so they "
                     "stop telling images apart (" +
                     numbers + "). ";
  text += method_hint.empty() ? "A lower learning rate or a longer warm-up usually fixes it." : method_hint;
  return text;
}

}  // namespace studio
