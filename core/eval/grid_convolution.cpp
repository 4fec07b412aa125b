#include "core/eval/grid_convolution.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "core/base/error.h"
#include "core/base/parallel.h"

namespace studio {

namespace {

// x86-64 builds carry an AVX2 copy of the butterfly passes, chosen at run time (the default
// target is SSE2 only): twice the doubles per instruction where the CPU has it.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define STUDIO_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define STUDIO_VECTOR_CLONES
#endif

constexpr int64_t kBlockColumns = 16;  // columns transformed together: the vectorised inner loop
constexpr double kTwoPi = 6.283185307179586476925286766559;

// One Stockham pass: radix r over the current length r * m, at stride s (the product of the
// radices already done). Twiddles w^(j p), w = exp(sign 2 pi i / (r m)), for p < m, 1 <= j < r.
struct FftPass {
  int radix = 0;
  int64_t m = 0, s = 0;
  std::vector<double> twiddle_re, twiddle_im;  // [m][radix - 1]
};

struct FftPlan {
  int64_t n = 0;
  int sign = -1;
  std::vector<FftPass> passes;
};

FftPlan makePlan(int64_t n, int sign) {
  FftPlan plan;
  plan.n = n;
  plan.sign = sign;
  int64_t rest = n, stride = 1;
  while (rest > 1) {
    int radix = 0;
    for (const int candidate : {4, 2, 3, 5, 7})
      if (rest % candidate == 0) {
        radix = candidate;
        break;
      }
    if (radix == 0)
      throwBadInput("FFT length " + std::to_string(n) + " has a prime factor above 7 (the grid sizes are chosen to avoid this)");
    FftPass pass;
    pass.radix = radix;
    pass.m = rest / radix;
    pass.s = stride;
    pass.twiddle_re.resize(static_cast<size_t>(pass.m * (radix - 1)));
    pass.twiddle_im.resize(pass.twiddle_re.size());
    const double theta = sign * kTwoPi / static_cast<double>(rest);
    for (int64_t p = 0; p < pass.m; ++p)
      for (int j = 1; j < radix; ++j) {
        const double angle = theta * static_cast<double>(j * p);
        pass.twiddle_re[static_cast<size_t>(p * (radix - 1) + j - 1)] = std::cos(angle);
        pass.twiddle_im[static_cast<size_t>(p * (radix - 1) + j - 1)] = std::sin(angle);
      }
    plan.passes.push_back(std::move(pass));
    rest /= radix;
    stride *= radix;
  }
  return plan;
}

// The radix-R DFT of one column's R inputs, then the twiddles w^(j p) (when kTwiddle), for
// `columns` columns at once: the loop over columns has no branches, so it vectorises.
template <int R, bool kTwiddle>
inline void butterflies(int sign, int64_t columns, const double* const* in_r, const double* const* in_i,
                        double* const* out_r, double* const* out_i, const double* tr, const double* ti) {
  // w_R^k = exp(sign 2 pi i k / R), for the odd radices.
  double cr[R], ci[R];
  for (int k = 0; k < R; ++k) {
    cr[k] = std::cos(kTwoPi * k / R);
    ci[k] = sign * std::sin(kTwoPi * k / R);
  }
  const double s = static_cast<double>(sign);
  double twr[R], twi[R];
  for (int j = 1; j < R; ++j) {
    twr[j] = kTwiddle ? tr[j - 1] : 1.0;
    twi[j] = kTwiddle ? ti[j - 1] : 0.0;
  }
#pragma GCC ivdep
  for (int64_t b = 0; b < columns; ++b) {
    double ar[R], ai[R], br[R], bi[R];
#pragma GCC unroll 8
    for (int k = 0; k < R; ++k) {
      ar[k] = in_r[k][b];
      ai[k] = in_i[k][b];
    }
    if constexpr (R == 2) {
      br[0] = ar[0] + ar[1];
      bi[0] = ai[0] + ai[1];
      br[1] = ar[0] - ar[1];
      bi[1] = ai[0] - ai[1];
    } else if constexpr (R == 4) {
      // w_4 = sign * i: w (x + iy) = sign (-y + ix).
      const double t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
      const double t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
      const double t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
      const double dr = ar[1] - ar[3], di = ai[1] - ai[3];
      const double t3r = -s * di, t3i = s * dr;
      br[0] = t0r + t2r;
      bi[0] = t0i + t2i;
      br[2] = t0r - t2r;
      bi[2] = t0i - t2i;
      br[1] = t1r + t3r;
      bi[1] = t1i + t3i;
      br[3] = t1r - t3r;
      bi[3] = t1i - t3i;
    } else if constexpr (R == 3) {
      const double tr3 = ar[1] + ar[2], ti3 = ai[1] + ai[2];
      const double dr = ar[1] - ar[2], di = ai[1] - ai[2];
      const double mr = ar[0] - 0.5 * tr3, mi = ai[0] - 0.5 * ti3;
      const double h = s * 0.86602540378443864676;  // sign * sqrt(3) / 2, times i below
      br[0] = ar[0] + tr3;
      bi[0] = ai[0] + ti3;
      br[1] = mr - h * di;
      bi[1] = mi + h * dr;
      br[2] = mr + h * di;
      bi[2] = mi - h * dr;
    } else {
      // Odd radix: pair k with R - k, b_j = a_0 + sum_k (a_k + a_{R-k}) cos + i (a_k - a_{R-k}) sin.
      double pr[R], pi[R], nr[R], ni[R];
      br[0] = ar[0];
      bi[0] = ai[0];
#pragma GCC unroll 8
      for (int k = 1; k <= R / 2; ++k) {
        pr[k] = ar[k] + ar[R - k];
        pi[k] = ai[k] + ai[R - k];
        nr[k] = ar[k] - ar[R - k];
        ni[k] = ai[k] - ai[R - k];
        br[0] += pr[k];
        bi[0] += pi[k];
      }
#pragma GCC unroll 8
      for (int j = 1; j <= R / 2; ++j) {
        double cre = ar[0], cim = ai[0], sre = 0, sim = 0;
#pragma GCC unroll 8
        for (int k = 1; k <= R / 2; ++k) {
          const int jk = (j * k) % R;
          cre += pr[k] * cr[jk];
          cim += pi[k] * cr[jk];
          sre -= ni[k] * ci[jk];
          sim += nr[k] * ci[jk];
        }
        // b_j and b_{R-j} share the cosine part and differ in the sign of the sine part.
        br[j] = cre + sre;
        bi[j] = cim + sim;
        br[R - j] = cre - sre;
        bi[R - j] = cim - sim;
      }
    }
    out_r[0][b] = br[0];
    out_i[0][b] = bi[0];
#pragma GCC unroll 8
    for (int j = 1; j < R; ++j) {
      if constexpr (kTwiddle) {
        out_r[j][b] = br[j] * twr[j] - bi[j] * twi[j];
        out_i[j][b] = br[j] * twi[j] + bi[j] * twr[j];
      } else {
        out_r[j][b] = br[j];
        out_i[j][b] = bi[j];
      }
    }
  }
}

// One pass over `columns` interleaved transforms: element e of column b lives at e * columns + b.
template <int R>
STUDIO_VECTOR_CLONES void runPass(const FftPass& pass, int sign, int64_t columns, const double* xr, const double* xi, double* yr,
             double* yi) {
  const int64_t m = pass.m, s = pass.s;
  for (int64_t p = 0; p < m; ++p) {
    const double* tr = pass.twiddle_re.data() + p * (R - 1);
    const double* ti = pass.twiddle_im.data() + p * (R - 1);
    for (int64_t q = 0; q < s; ++q) {
      const double* in_r[R];
      const double* in_i[R];
      double* out_r[R];
      double* out_i[R];
      for (int k = 0; k < R; ++k) {
        in_r[k] = xr + (q + s * (p + k * m)) * columns;
        in_i[k] = xi + (q + s * (p + k * m)) * columns;
        out_r[k] = yr + (q + s * (R * p + k)) * columns;
        out_i[k] = yi + (q + s * (R * p + k)) * columns;
      }
      if (p == 0) {
        butterflies<R, false>(sign, columns, in_r, in_i, out_r, out_i, tr, ti);
      } else {
        butterflies<R, true>(sign, columns, in_r, in_i, out_r, out_i, tr, ti);
      }
    }
  }
}

// Runs every pass, ping-ponging between (xr, xi) and (yr, yi); returns whether the result
// ended in (yr, yi).
bool runPlan(const FftPlan& plan, int64_t columns, double* xr, double* xi, double* yr, double* yi) {
  bool in_y = false;
  for (const FftPass& pass : plan.passes) {
    const double* ar = in_y ? yr : xr;
    const double* ai = in_y ? yi : xi;
    double* br = in_y ? xr : yr;
    double* bi = in_y ? xi : yi;
    switch (pass.radix) {
      case 2: runPass<2>(pass, plan.sign, columns, ar, ai, br, bi); break;
      case 3: runPass<3>(pass, plan.sign, columns, ar, ai, br, bi); break;
      case 4: runPass<4>(pass, plan.sign, columns, ar, ai, br, bi); break;
      case 5: runPass<5>(pass, plan.sign, columns, ar, ai, br, bi); break;
      default: runPass<7>(pass, plan.sign, columns, ar, ai, br, bi); break;
    }
    in_y = !in_y;
  }
  return in_y;
}

// Scratch for one block of columns: two ping-pong buffers of n x kBlockColumns complex values.
struct Block {
  std::vector<double> xr, xi, yr, yi;
  explicit Block(int64_t n)
      : xr(static_cast<size_t>(n * kBlockColumns)), xi(xr.size()), yr(xr.size()), yi(xr.size()) {}
  // Runs the plan on the first `columns` columns; returns the arrays holding the result.
  std::pair<double*, double*> transform(const FftPlan& plan, int64_t columns) {
    return runPlan(plan, columns, xr.data(), xi.data(), yr.data(), yi.data())
               ? std::make_pair(yr.data(), yi.data())
               : std::make_pair(xr.data(), xi.data());
  }
};

// Calls body(block, first, count) for blocks of kBlockColumns columns out of `total`, the
// blocks split evenly between the workers, each with its own scratch.
template <class Body>
void forColumnBlocks(int64_t total, int64_t n, int64_t threads, const Body& body) {
  const int64_t blocks = (total + kBlockColumns - 1) / kBlockColumns;
  const int64_t workers = std::max<int64_t>(1, std::min(threads, blocks));
  parallelWorkers(workers, [&](int64_t worker) {
    Block block(n);
    for (int64_t b = blocks * worker / workers; b < blocks * (worker + 1) / workers; ++b) {
      const int64_t first = b * kBlockColumns;
      body(block, first, std::min(kBlockColumns, total - first));
    }
  });
}

}  // namespace

void GridConvolution::setKernel(int64_t g, double spacing, int64_t threads) {
  if (g < 1) throwBadInput("grid convolution: side must be >= 1, got " + std::to_string(g));
  const int64_t m = 2 * g;
  const FftPlan forward = makePlan(m, -1);
  g_ = g;
  spacing_ = spacing;
  std::vector<double> offset2(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const double d = static_cast<double>(i < g ? i : m - i) * spacing;
    offset2[static_cast<size_t>(i)] = d * d;
  }
  // Circulant layout: index i < g is offset i, i > g is offset i - m, i = g pads (zero).
  const auto kernel = [&](int64_t a, int64_t b) {
    if (a == g || b == g) return 0.0;
    const double w = 1.0 / (1.0 + offset2[static_cast<size_t>(a)] + offset2[static_cast<size_t>(b)]);
    return w * w;
  };
  // Each row of the kernel is even, so its transform is real: rows 2c and 2c + 1 go in as the
  // real and imaginary parts of one complex column and come out separated. Same for the
  // columns of the result.
  std::vector<double> rows_done(static_cast<size_t>(m * m));  // [a][v]
  forColumnBlocks(m / 2, m, threads, [&](Block& block, int64_t first, int64_t count) {
    for (int64_t t = 0; t < m; ++t)
      for (int64_t c = 0; c < count; ++c) {
        block.xr[static_cast<size_t>(t * count + c)] = kernel(2 * (first + c), t);
        block.xi[static_cast<size_t>(t * count + c)] = kernel(2 * (first + c) + 1, t);
      }
    const auto [rr, ri] = block.transform(forward, count);
    for (int64_t v = 0; v < m; ++v)
      for (int64_t c = 0; c < count; ++c) {
        rows_done[static_cast<size_t>(2 * (first + c) * m + v)] = rr[v * count + c];
        rows_done[static_cast<size_t>((2 * (first + c) + 1) * m + v)] = ri[v * count + c];
      }
  });
  spectrum_.assign(static_cast<size_t>(m * m), 0.0);
  const double scale = 1.0 / (static_cast<double>(m) * static_cast<double>(m));  // the inverse transforms' 1 / N
  forColumnBlocks(m / 2, m, threads, [&](Block& block, int64_t first, int64_t count) {
    for (int64_t t = 0; t < m; ++t)
      for (int64_t c = 0; c < count; ++c) {
        block.xr[static_cast<size_t>(t * count + c)] = rows_done[static_cast<size_t>(t * m + 2 * (first + c))];
        block.xi[static_cast<size_t>(t * count + c)] = rows_done[static_cast<size_t>(t * m + 2 * (first + c) + 1)];
      }
    const auto [rr, ri] = block.transform(forward, count);
    for (int64_t u = 0; u < m; ++u)
      for (int64_t c = 0; c < count; ++c) {
        spectrum_[static_cast<size_t>(u * m + 2 * (first + c))] = rr[u * count + c] * scale;
        spectrum_[static_cast<size_t>(u * m + 2 * (first + c) + 1)] = ri[u * count + c] * scale;
      }
  });
}

void GridConvolution::apply(double* planes, int64_t count, int64_t threads) {
  if (g_ < 1) throwBadInput("grid convolution: setKernel must come before apply");
  if (count < 0 || count % 2 != 0)
    throwBadInput("grid convolution: the plane count must be even, got " + std::to_string(count));
  const int64_t g = g_, m = 2 * g, plane = g * g;
  const FftPlan forward = makePlan(m, -1), inverse = makePlan(m, +1);
  work_re_.resize(static_cast<size_t>(m * g));
  work_im_.resize(work_re_.size());
  double* wr = work_re_.data();
  double* wi = work_im_.data();
  for (int64_t pair = 0; pair < count / 2; ++pair) {
    double* a = planes + 2 * pair * plane;  // real part
    double* b = a + plane;                  // imaginary part
    // 1. Along x (the row index) for every y: input rows x >= g are padding (zero).
    forColumnBlocks(g, m, threads, [&](Block& block, int64_t first, int64_t cols) {
      for (int64_t t = 0; t < m; ++t)
        for (int64_t c = 0; c < cols; ++c) {
          const bool data = t < g;
          block.xr[static_cast<size_t>(t * cols + c)] = data ? a[t * g + first + c] : 0.0;
          block.xi[static_cast<size_t>(t * cols + c)] = data ? b[t * g + first + c] : 0.0;
        }
      const auto [rr, ri] = block.transform(forward, cols);
      for (int64_t u = 0; u < m; ++u)
        for (int64_t c = 0; c < cols; ++c) {
          wr[u * g + first + c] = rr[u * cols + c];
          wi[u * g + first + c] = ri[u * cols + c];
        }
    });
    // 2. Along y for every x frequency u: forward, times the kernel's spectrum, back; only
    // y < g of the result is kept.
    forColumnBlocks(m, m, threads, [&](Block& block, int64_t first, int64_t cols) {
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t t = 0; t < m; ++t) {
          const bool data = t < g;
          block.xr[static_cast<size_t>(t * cols + c)] = data ? wr[(first + c) * g + t] : 0.0;
          block.xi[static_cast<size_t>(t * cols + c)] = data ? wi[(first + c) * g + t] : 0.0;
        }
      auto [rr, ri] = block.transform(forward, cols);
      for (int64_t v = 0; v < m; ++v)
        for (int64_t c = 0; c < cols; ++c) {
          const double k = spectrum_[static_cast<size_t>((first + c) * m + v)];
          rr[v * cols + c] *= k;
          ri[v * cols + c] *= k;
        }
      // The product sits in whichever buffer pair the forward pass ended in; run the inverse
      // from there by copying into x (the plan starts from x).
      if (rr != block.xr.data()) {
        std::copy_n(rr, m * cols, block.xr.data());
        std::copy_n(ri, m * cols, block.xi.data());
      }
      const auto [sr, si] = block.transform(inverse, cols);
      for (int64_t c = 0; c < cols; ++c)
        for (int64_t t = 0; t < g; ++t) {
          wr[(first + c) * g + t] = sr[t * cols + c];
          wi[(first + c) * g + t] = si[t * cols + c];
        }
    });
    // 3. Back along x for every y; rows x < g are the convolution.
    forColumnBlocks(g, m, threads, [&](Block& block, int64_t first, int64_t cols) {
      for (int64_t t = 0; t < m; ++t)
        for (int64_t c = 0; c < cols; ++c) {
          block.xr[static_cast<size_t>(t * cols + c)] = wr[t * g + first + c];
          block.xi[static_cast<size_t>(t * cols + c)] = wi[t * g + first + c];
        }
      const auto [rr, ri] = block.transform(inverse, cols);
      for (int64_t x = 0; x < g; ++x)
        for (int64_t c = 0; c < cols; ++c) {
          a[x * g + first + c] = rr[x * cols + c];
          b[x * g + first + c] = ri[x * cols + c];
        }
    });
  }
}

void fftInPlace(std::vector<std::complex<double>>& data, int sign) {
  if (sign != 1 && sign != -1) throwBadInput("FFT sign must be -1 or +1, got " + std::to_string(sign));
  const auto n = static_cast<int64_t>(data.size());
  if (n < 1) throwBadInput("FFT of an empty sequence");
  const FftPlan plan = makePlan(n, sign);
  Block block(n);
  for (int64_t t = 0; t < n; ++t) {
    block.xr[static_cast<size_t>(t)] = data[static_cast<size_t>(t)].real();
    block.xi[static_cast<size_t>(t)] = data[static_cast<size_t>(t)].imag();
  }
  const auto [rr, ri] = block.transform(plan, 1);
  for (int64_t t = 0; t < n; ++t) data[static_cast<size_t>(t)] = {rr[t], ri[t]};
}

}  // namespace studio
