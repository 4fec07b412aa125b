#pragma once
// t-SNE as torch tensor ops, so that one implementation runs on any device: what runTsne
// uses on CUDA. The algorithm is the native CPU one (core/eval/tsne.h): exact kNN by blocked
// matrix products, the same perplexity calibration (batched over rows), openTSNE's
// optimiser, and the repulsion either exact (blocked pairs, moderate N) or by FFT
// interpolation on the same grid as core/eval/tsne_fft.h. On the CPU it is slower than the
// native loops; the tests run it there and compare it with them.
#include <cstdint>

#include <torch/types.h>

#include "core/eval/tsne.h"

namespace studio {

// P in coordinate form on a device: entry e is (rows[e], columns[e], values[e]); both
// directions of every pair are present, entries sum to 1.
struct TensorAffinities {
  torch::Tensor rows, columns;  // int64 [nnz]
  torch::Tensor values;         // float64 [nnz]
  int64_t n = 0;
  double sum_p = 0, sum_p_log_p = 0;
};

// computeAffinities with exact neighbours, on `device`. x: floating [N, D], checked by the caller.
TensorAffinities tensorAffinities(const torch::Tensor& x, double perplexity, const torch::Device& device);

// CSR affinities from computeAffinities moved to a device.
TensorAffinities toTensorAffinities(const Affinities& p, const torch::Device& device);

// The gradient (as exactGradient: 4 * (exaggeration * attractive - repulsive / Z)) at y
// [N, 2] float64 on p's device, returned on that device. exact: all pairs in blocks;
// otherwise FFT interpolation with the options' grid settings. kl_out, when given, receives
// KL(P || Q) of the unexaggerated P.
torch::Tensor tensorGradient(const TensorAffinities& p, const torch::Tensor& y, double exaggeration, bool exact,
                             const TsneOptions& options, double* kl_out = nullptr);

// The optimisation of runTsne from `initial` ([N, 2], any device and floating type) on p's
// device. Layouts reach the callback and the result as float32 on the CPU.
TsneResult runTensorTsne(const TensorAffinities& p, const torch::Tensor& initial, const TsneOptions& options,
                         bool exact, const TsneCallback& callback);

}  // namespace studio
