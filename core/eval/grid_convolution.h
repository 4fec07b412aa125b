#pragma once
// Linear 2-D convolution of g x g real grids with the squared Cauchy kernel 1 / (1 + d^2)^2
// sampled at the grid's node offsets, through FFTs of size 2g x 2g: the all-pairs step of
// t-SNE's FFT-accelerated interpolation (core/eval/tsne_fft.h).
//
// Its own FFT rather than torch::fft: the CPU transforms there re-plan on every call, which
// costs more than the transform at these sizes (tens of milliseconds per call, measured),
// and t-SNE calls it every iteration. This one is a mixed-radix (2, 3, 4, 5, 7) Stockham
// FFT run on blocks of columns at once (the inner loop runs across columns, so it
// vectorises), threaded over blocks, and specialised: two real grids ride as the real and
// imaginary parts of one complex grid (the kernel's spectrum is real, so they never mix),
// the zero padding is never transformed, only the needed quarter of the output is
// transformed back, and the kernel's spectrum comes from half as many transforms because
// each of its rows and columns is even.
#include <complex>
#include <cstdint>
#include <vector>

namespace studio {

class GridConvolution {
 public:
  // The grid side g (>= 1; 2g must have no prime factor above 7) and the node spacing: the
  // kernel value between nodes (a, b) and (c, d) is 1 / (1 + spacing^2 ((a-c)^2 + (b-d)^2))^2.
  void setKernel(int64_t g, double spacing, int64_t threads);

  // planes: `count` consecutive g x g row-major grids (count even), each replaced by
  // out[a][b] = sum_{c, d} kernel(a - c, b - d) in[c][d].
  void apply(double* planes, int64_t count, int64_t threads);

  int64_t side() const { return g_; }

 private:
  int64_t g_ = 0;
  double spacing_ = 0;
  std::vector<double> spectrum_;  // real kernel spectrum [2g][2g], scaled by 1 / (2g)^2
  std::vector<double> work_re_, work_im_;  // [2g][g]: after the x transforms
};

// The discrete Fourier transform of `data` in place with this file's FFT:
// X_k = sum_n x_n exp(sign 2 pi i n k / N), unscaled; sign is -1 or +1. N >= 1 with no
// prime factor above 7. For the tests.
void fftInPlace(std::vector<std::complex<double>>& data, int sign);

}  // namespace studio
