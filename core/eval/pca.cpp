#include "core/eval/pca.h"

#include <torch/torch.h>

#include <algorithm>
#include <sstream>
#include <string>

#include "core/base/error.h"

namespace studio {

namespace {

// Rows per block when accumulating X^T X in double: bounds the temporary copy to ~32 MB.
constexpr int64_t kGramBlockElements = int64_t{1} << 22;

std::string shapeOf(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

}  // namespace

PcaResult pca(const torch::Tensor& x, int64_t k) {
  if (!x.defined()) throwBadInput("PCA input is undefined: expected a [N, D] floating-point matrix");
  if (x.dim() != 2)
    throwBadInput("PCA input must be a 2-D [N, D] matrix, got " + std::to_string(x.dim()) + "-D of shape " +
                  shapeOf(x));
  if (!x.is_floating_point()) throwBadInput("PCA input must be floating point, got " + std::string(x.dtype().name()));
  const int64_t n = x.size(0), d = x.size(1);
  if (n < 2) throwBadInput("PCA needs at least 2 rows, got N = " + std::to_string(n));
  if (k < 1 || k > d)
    throwBadInput("PCA component count k = " + std::to_string(k) + " is out of range: it must be between 1 and D = " +
                  std::to_string(d));

  torch::NoGradGuard no_grad;
  const auto dtype = x.scalar_type();
  const auto xd = x.cpu();
  // Double accumulation throughout: the small trailing variances are what the ratios and the
  // component signs are made of, and float sums over many rows would blur them.
  const auto mean = xd.sum(at::IntArrayRef{0}, /*keepdim=*/false, torch::kFloat64) / static_cast<double>(n);

  torch::Tensor components;  // [k, D] double
  torch::Tensor variances;   // [k] double, in descending order
  double total_variance = 0;
  if (n > d) {
    // Tall data: the D x D scatter matrix costs N*D^2 and its eigendecomposition D^3, both below
    // an SVD of the N x D data. eigh rather than svd because the matrix is symmetric (same
    // result, a fraction of the work).
    const int64_t block = std::max<int64_t>(1, kGramBlockElements / std::max<int64_t>(d, 1));
    auto scatter = torch::zeros({d, d}, torch::kFloat64);
    for (int64_t start = 0; start < n; start += block) {
      const auto rows = xd.slice(0, start, std::min(n, start + block)).to(torch::kFloat64) - mean;
      scatter.addmm_(rows.t(), rows);
    }
    const auto eig = torch::linalg_eigh(scatter);
    const auto values = std::get<0>(eig).clamp_min(0);  // ascending; tiny negatives are round-off
    const auto vectors = std::get<1>(eig);               // columns
    total_variance = values.sum().item<double>();
    variances = values.flip({0}).slice(0, 0, k);
    components = vectors.flip({1}).slice(1, 0, k).t().contiguous();
  } else {
    // Wide data (few rows): the SVD of the centred N x D data is the cheaper one. With k above
    // min(N, D) the full SVD completes the basis from the same decomposition, so the extra
    // (zero-variance) axes stay orthogonal to the others.
    const auto centred = xd.to(torch::kFloat64) - mean;
    const auto svd = torch::linalg_svd(centred, /*full_matrices=*/k > std::min(n, d));
    const auto s = std::get<1>(svd);
    const auto squares = s * s;
    total_variance = squares.sum().item<double>();
    const int64_t take = std::min(k, s.size(0));
    variances = torch::zeros({k}, torch::kFloat64);
    variances.slice(0, 0, take).copy_(squares.slice(0, 0, take));
    components = std::get<2>(svd).slice(0, 0, k).contiguous();
  }

  // Deterministic signs: each axis points so that its largest-magnitude entry is positive.
  const auto largest = components.abs().argmax(1, /*keepdim=*/true);
  const auto signs = torch::where(components.gather(1, largest) < 0, -1.0, 1.0);
  components = components * signs;

  PcaResult result;
  result.mean = mean.to(dtype);
  result.components = components.to(dtype);
  result.explained_variance_ratio =
      total_variance > 0 ? (variances / total_variance).to(dtype) : torch::zeros({k}, torch::TensorOptions(dtype));
  result.projected = (xd - result.mean).matmul(result.components.t());
  return result;
}

}  // namespace studio
