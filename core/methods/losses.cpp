#include "core/methods/losses.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <stdexcept>

namespace studio {
namespace {

namespace F = torch::nn::functional;

torch::Tensor unitRows(const torch::Tensor& z) {
  return F::normalize(z.to(torch::kFloat32), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor eyeMask(int64_t n, const torch::Device& device) {
  return torch::eye(n, torch::TensorOptions().dtype(torch::kBool).device(device));
}

// One direction of DCL: the positive's similarity against the log-sum-exp of the negatives
// (the other views of the anchor's batch and of the other batch, never the positive).
torch::Tensor dclOneWay(const torch::Tensor& a, const torch::Tensor& b, double temperature, double sigma) {
  const int64_t n = a.size(0);
  const auto off = eyeMask(n, a.device()).logical_not();
  const auto sim_aa = torch::mm(a, a.t()) / temperature;
  const auto sim_ab = torch::mm(a, b.t()) / temperature;
  auto positive = -sim_ab.diagonal();
  if (sigma > 0) {
    torch::NoGradGuard no_grad;  // a weight, not a path for gradients
    const auto weight = 2.0 - double(n) * torch::softmax((a * b).sum(1) / sigma, 0);
    positive = positive * weight;
  }
  const auto negatives = torch::cat({sim_aa.masked_select(off).view({n, n - 1}), sim_ab.masked_select(off).view({n, n - 1})}, 1);
  return (positive + torch::logsumexp(negatives, 1)).mean();
}

torch::Tensor offDiagonal(const torch::Tensor& square) {
  return square.masked_select(eyeMask(square.size(0), square.device()).logical_not());
}

}  // namespace

NtXentResult ntXentLoss(const torch::Tensor& z, double temperature) {
  TORCH_CHECK(z.dim() == 2 && z.size(0) % 2 == 0 && z.size(0) >= 4, "ntXentLoss expects [2N, D] with N >= 2");
  const int64_t two_n = z.size(0), n = two_n / 2;
  const auto zn = unitRows(z);
  auto logits = torch::mm(zn, zn.t()) / temperature;
  // A view is never its own negative: mask the diagonal out of the softmax.
  logits = logits.masked_fill(eyeMask(two_n, z.device()), -std::numeric_limits<float>::infinity());
  const auto idx = torch::arange(two_n, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  const auto targets = torch::remainder(idx + n, two_n);
  NtXentResult r;
  r.loss = F::cross_entropy(logits, targets);
  {
    torch::NoGradGuard no_grad;
    r.pos_accuracy = (logits.argmax(1) == targets).to(torch::kFloat32).mean();
  }
  return r;
}

torch::Tensor pairAccuracy(const torch::Tensor& z) {
  torch::NoGradGuard no_grad;
  const int64_t two_n = z.size(0), n = two_n / 2;
  const auto zn = unitRows(z);
  const auto sim = torch::mm(zn, zn.t()).masked_fill(eyeMask(two_n, z.device()), -2.0f);
  const auto idx = torch::arange(two_n, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  return (sim.argmax(1) == torch::remainder(idx + n, two_n)).to(torch::kFloat32).mean();
}

torch::Tensor dclLoss(const torch::Tensor& z0, const torch::Tensor& z1, double temperature, double sigma) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes() && z0.size(0) >= 2, "dclLoss expects two [N, D] with N >= 2");
  const auto a = unitRows(z0), b = unitRows(z1);
  return 0.5 * (dclOneWay(a, b, temperature, sigma) + dclOneWay(b, a, temperature, sigma));
}

torch::Tensor queueContrastLoss(const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& queue,
                                double temperature, torch::Tensor* accuracy) {
  TORCH_CHECK(queries.dim() == 2 && queries.sizes() == keys.sizes() && queue.dim() == 2 && queue.size(1) == queries.size(1),
              "queueContrastLoss expects queries and keys [N, D] and a queue [K, D]");
  const auto q = unitRows(queries), k = unitRows(keys);
  const auto positive = (q * k).sum(1, /*keepdim=*/true);
  const auto negative = torch::mm(q, queue.to(torch::kFloat32).t());
  const auto logits = torch::cat({positive, negative}, 1) / temperature;
  const auto labels = torch::zeros({q.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  if (accuracy) {
    torch::NoGradGuard no_grad;
    *accuracy = (logits.argmax(1) == 0).to(torch::kFloat32).mean();
  }
  return F::cross_entropy(logits, labels);
}

int64_t pushToQueue(torch::Tensor& queue, int64_t pointer, const torch::Tensor& rows) {
  torch::NoGradGuard no_grad;
  const int64_t size = queue.size(0);
  int64_t written = 0;
  const int64_t count = std::min<int64_t>(rows.size(0), size);  // more rows than the queue holds: the last ones stay
  const auto source = rows.slice(0, rows.size(0) - count).to(queue.dtype());
  while (written < count) {
    const int64_t chunk = std::min(count - written, size - pointer);
    queue.slice(0, pointer, pointer + chunk).copy_(source.slice(0, written, written + chunk));
    written += chunk;
    pointer = (pointer + chunk) % size;
  }
  return pointer;
}

torch::Tensor negativeCosineSimilarity(const torch::Tensor& x0, const torch::Tensor& x1) {
  return -F::cosine_similarity(x0.to(torch::kFloat32), x1.to(torch::kFloat32),
                               F::CosineSimilarityFuncOptions().dim(1).eps(1e-8))
              .mean();
}

torch::Tensor barlowTwinsLoss(const torch::Tensor& z0, const torch::Tensor& z1, double lambda) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes() && z0.size(0) >= 2, "barlowTwinsLoss expects two [N, D] with N >= 2");
  // Batch normalisation without affine terms: zero mean, unit (biased) variance per dimension.
  auto standardise = [](const torch::Tensor& z) {
    const auto x = z.to(torch::kFloat32);
    const auto mean = x.mean(0, /*keepdim=*/true);
    const auto var = (x - mean).pow(2).mean(0, /*keepdim=*/true);
    return (x - mean) / torch::sqrt(var + 1e-5);
  };
  const auto c = torch::mm(standardise(z0).t(), standardise(z1)) / double(z0.size(0));
  const auto on_diagonal = (c.diagonal() - 1).pow(2).sum();
  return on_diagonal + lambda * offDiagonal(c).pow(2).sum();
}

torch::Tensor vicregLoss(const torch::Tensor& z0, const torch::Tensor& z1, double invariance_weight,
                         double variance_weight, double covariance_weight, double eps) {
  TORCH_CHECK(z0.dim() == 2 && z0.sizes() == z1.sizes() && z0.size(0) >= 2, "vicregLoss expects two [N, D] with N >= 2");
  const auto a = z0.to(torch::kFloat32), b = z1.to(torch::kFloat32);
  auto variance = [eps](const torch::Tensor& x) {
    return torch::relu(1.0 - torch::sqrt(x.var(0, /*unbiased=*/true) + eps)).mean();
  };
  auto covariance = [](const torch::Tensor& x) {
    const auto centred = x - x.mean(0, /*keepdim=*/true);
    const auto cov = torch::mm(centred.t(), centred) / double(x.size(0) - 1);
    return offDiagonal(cov).pow(2).sum() / double(x.size(1));
  };
  const auto invariance = F::mse_loss(a, b);
  return invariance_weight * invariance + variance_weight * 0.5 * (variance(a) + variance(b)) +
         covariance_weight * (covariance(a) + covariance(b));
}

torch::Tensor dinoLoss(const std::vector<torch::Tensor>& teacher, const std::vector<torch::Tensor>& student,
                       const torch::Tensor& center, double teacher_temperature, double student_temperature) {
  TORCH_CHECK(!teacher.empty() && !student.empty() && teacher.size() + student.size() > 2,
              "dinoLoss needs views beyond the one shared index");
  const int64_t batch = teacher[0].size(0);
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t t = 0; t < teacher.size(); ++t) {
    const auto target = torch::softmax((teacher[t].to(torch::kFloat32) - center) / teacher_temperature, -1);
    for (size_t s = 0; s < student.size(); ++s) {
      if (s == t) continue;  // a view is not its own target
      const auto log_p = torch::log_softmax(student[s].to(torch::kFloat32) / student_temperature, -1);
      const auto term = -(target * log_p).sum();
      total = total.defined() ? total + term : term;
      ++terms;
    }
  }
  return total / double(terms * batch);
}

torch::Tensor meanOverViewPairs(const std::vector<torch::Tensor>& z, const PairLoss& pair_loss) {
  TORCH_CHECK(z.size() >= 2, "meanOverViewPairs needs two views or more");
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t a = 0; a < z.size(); ++a)
    for (size_t b = a + 1; b < z.size(); ++b) {
      const auto term = pair_loss(z[a], z[b]);
      total = total.defined() ? total + term : term;
      ++terms;
    }
  return terms == 1 ? total : total / double(terms);
}

torch::Tensor meanOverTargetPairs(const std::vector<torch::Tensor>& online, const std::vector<torch::Tensor>& target,
                                  const PairLoss& pair_loss) {
  TORCH_CHECK(!target.empty() && target.size() <= online.size() && online.size() >= 2,
              "meanOverTargetPairs needs two views or more, the targets among them");
  torch::Tensor total;
  int64_t terms = 0;
  for (size_t t = 0; t < target.size(); ++t)
    for (size_t v = 0; v < online.size(); ++v) {
      if (v == t) continue;  // a view does not predict itself
      const auto term = pair_loss(online[v], target[t]);
      total = total.defined() ? total + term : term;
      ++terms;
    }
  return terms == 1 ? total : total / double(terms);
}

double cosineSchedule(int64_t step, int64_t max_steps, double start, double end) {
  if (max_steps <= 1 || step >= max_steps - 1) return end;
  const double pi = std::acos(-1.0);
  return end - (end - start) * (std::cos(pi * double(step) / double(max_steps - 1)) + 1.0) / 2.0;
}

void emaUpdate(const std::vector<torch::Tensor>& target, const std::vector<torch::Tensor>& online, double momentum) {
  if (target.size() != online.size()) throw std::logic_error("emaUpdate: the target and the online network differ");
  torch::NoGradGuard no_grad;
  torch::_foreach_mul_(target, momentum);
  torch::_foreach_add_(target, online, 1.0 - momentum);
}

}  // namespace studio
