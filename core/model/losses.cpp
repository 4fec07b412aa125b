#include "core/model/losses.h"

#include <torch/torch.h>

namespace studio {

NtXentResult ntXentLoss(const torch::Tensor& z, double temperature) {
  TORCH_CHECK(z.dim() == 2 && z.size(0) % 2 == 0 && z.size(0) >= 4, "ntXentLoss expects [2N, D] with N >= 2");
  const int64_t two_n = z.size(0), n = two_n / 2;
  const auto zn = torch::nn::functional::normalize(z.to(torch::kFloat32), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto logits = torch::mm(zn, zn.t()) / temperature;
  // A view is never its own negative: mask the diagonal out of the softmax.
  const auto eye = torch::eye(two_n, torch::TensorOptions().dtype(torch::kBool).device(z.device()));
  logits = logits.masked_fill(eye, -std::numeric_limits<float>::infinity());
  const auto idx = torch::arange(two_n, torch::TensorOptions().dtype(torch::kLong).device(z.device()));
  const auto targets = torch::remainder(idx + n, two_n);
  NtXentResult r;
  r.loss = torch::nn::functional::cross_entropy(logits, targets);
  {
    torch::NoGradGuard no_grad;
    r.pos_accuracy = (logits.argmax(1) == targets).to(torch::kFloat32).mean();
  }
  return r;
}

}  // namespace studio
