// The kernels of gpu/augment_kernels.h and their launchers (gpu/augment_launch.h). No torch
// header here: nvcc on them took minutes; the tensor side is gpu/augment_kernels.cpp.
#include "gpu/augment_launch.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/augment/augment_columns.h"
#include "core/augment/augment_math.h"

namespace studio::gpu {
namespace {

using augmath::Pipeline;

constexpr int kThreads = 256;  // a power of two: the per-view reduction halves it

unsigned gridFor(int64_t work) {
  // Grid-stride loops below: a bounded grid covers any amount of work.
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((work + kThreads - 1) / kThreads, int64_t(1) << 20)));
}

__device__ __forceinline__ void writeNan(float* dst, int64_t n) {
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) dst[i] = __int_as_float(0x7fc00000);
}

// Pass 1, one block per view: crop + flip resampling of the view's source image into
// `unit` (NCHW, values in [0, 1]) and, when `means` is given, the view's contrast mean
// (the mean gray level after brightness), summed in double in a fixed order.
__global__ void resampleKernel(const uint8_t* __restrict__ images, int64_t num_images,
                               const int64_t* __restrict__ indices, const float* __restrict__ table, Pipeline p,
                               float* __restrict__ unit, float* __restrict__ means) {
  __shared__ double partial[kThreads];
  const int64_t v = blockIdx.x;
  const int C = p.channels, H = p.in_height, W = p.in_width, S = p.out_size;
  const int64_t plane = static_cast<int64_t>(S) * S;
  float* dst = unit + v * C * plane;
  const int64_t image = indices ? indices[v] : v;
  if (image < 0 || image >= num_images) {  // the same for the whole block
    writeNan(dst, C * plane);
    if (means && threadIdx.x == 0) means[v] = __int_as_float(0x7fc00000);
    return;
  }
  const float* row = table + v * kAugmentColumns;
  const uint8_t* src = images + image * C * H * W;
  const augmath::CropMap m = augmath::cropMap(row);
  const float brightness = row[kBrightness];
  double sum = 0;
  for (int64_t px = threadIdx.x; px < plane; px += blockDim.x) {
    const int i = static_cast<int>(px / S), j = static_cast<int>(px % S);
    const augmath::AxisTap tx = augmath::axisTap(augmath::sourceCoord(j, S, m.sx, m.ox, W), W);
    const augmath::AxisTap ty = augmath::axisTap(augmath::sourceCoord(i, S, m.sy, m.oy, H), H);
    float values[augmath::kMaxChannels];
    for (int c = 0; c < C; ++c) {
      const float x = augmath::bilinear(src + static_cast<int64_t>(c) * H * W, W, ty, tx);
      dst[c * plane + px] = x;
      values[c] = augmath::brighten(x, brightness);
    }
    sum += augmath::contrastSample(values, C);
  }
  if (!means) return;  // uniform over the block
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) means[v] = static_cast<float>(partial[0] / (static_cast<double>(plane) * (C == 3 ? 1 : C)));
}

// The contrast means of float views in [0, 1] (for colorViews alone), one block per view.
__global__ void meanKernel(const float* __restrict__ unit, const float* __restrict__ table, Pipeline p,
                           float* __restrict__ means) {
  __shared__ double partial[kThreads];
  const int64_t v = blockIdx.x;
  const int C = p.channels, S = p.out_size;
  const int64_t plane = static_cast<int64_t>(S) * S;
  const float* src = unit + v * C * plane;
  const float brightness = table[v * kAugmentColumns + kBrightness];
  double sum = 0;
  for (int64_t px = threadIdx.x; px < plane; px += blockDim.x) {
    float values[augmath::kMaxChannels];
    for (int c = 0; c < C; ++c) values[c] = augmath::brighten(src[c * plane + px], brightness);
    sum += augmath::contrastSample(values, C);
  }
  partial[threadIdx.x] = sum;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) means[v] = static_cast<float>(partial[0] / (static_cast<double>(plane) * (C == 3 ? 1 : C)));
}

// Pass 2, one thread per pixel (all channels): colour jitter + grayscale. With `finish`,
// also solarize + normalise into `out` in the output layout; else back into an NCHW
// buffer (which may be `in` itself: each thread reads its pixel before writing it).
__global__ void colorKernel(const float* in, const float* __restrict__ table, const float* __restrict__ means,
                            Pipeline p, int64_t views, bool finish, float* out) {
  const int C = p.channels, S = p.out_size;
  const int64_t plane = static_cast<int64_t>(S) * S, total = views * plane;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = t / plane, px = t % plane;
    const float* row = table + v * kAugmentColumns;
    const float mean = means[v];
    float values[augmath::kMaxChannels];
    for (int c = 0; c < C; ++c) values[c] = in[v * C * plane + c * plane + px];
    if (isnan(mean)) {
      for (int c = 0; c < C; ++c) values[c] = mean;  // a view from a bad index stays NaN
    } else {
      augmath::colorPixel(values, row, mean, p);
    }
    if (finish) {
      const int i = static_cast<int>(px / S), j = static_cast<int>(px % S);
      const bool solarize = row[kSolarize] > 0.5f;
      float* dst = out + v * C * plane;
      for (int c = 0; c < C; ++c)
        dst[augmath::outputOffset(c, i, j, p)] = isnan(mean) ? mean : augmath::finishValue(values[c], c, solarize, p);
    } else {
      for (int c = 0; c < C; ++c) out[v * C * plane + c * plane + px] = values[c];
    }
  }
}

// Pass 3a: each row blurred with its view's kernel (NCHW in and out).
__global__ void blurRowsKernel(const float* __restrict__ in, const float* __restrict__ weights, int kernel, int channels,
                               int size, int64_t views, float* __restrict__ out) {
  const int64_t plane = static_cast<int64_t>(size) * size, total = views * channels * plane;
  const int radius = kernel / 2;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = t / (channels * plane);
    const int j = static_cast<int>(t % size);
    const float* line = in + (t - j);
    const float* w = weights + v * kernel;
    float acc = 0.0f;
    for (int k = 0; k < kernel; ++k) acc += w[k] * line[augmath::blurTapIndex(j, k, radius, size)];
    out[t] = acc;
  }
}

// Pass 3b: each column blurred, then clamp, solarize and normalise into the output layout.
// `means` (may be null) marks views from bad indices (NaN).
__global__ void blurColumnsKernel(const float* __restrict__ in, const float* __restrict__ weights,
                                  const float* __restrict__ table, const float* __restrict__ means, Pipeline p,
                                  int64_t views, float* __restrict__ out) {
  const int C = p.channels, S = p.out_size, kernel = p.blur_kernel, radius = kernel / 2;
  const int64_t plane = static_cast<int64_t>(S) * S, total = views * C * plane;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t v = t / (C * plane);
    const int c = static_cast<int>((t / plane) % C);
    const int i = static_cast<int>((t % plane) / S), j = static_cast<int>(t % S);
    const float* column = in + v * C * plane + c * plane + j;
    const float* w = weights + v * kernel;
    float acc = 0.0f;
    for (int k = 0; k < kernel; ++k) acc += w[k] * column[static_cast<int64_t>(augmath::blurTapIndex(i, k, radius, S)) * S];
    const bool solarize = table ? table[v * kAugmentColumns + kSolarize] > 0.5f : false;
    const float mean = means ? means[v] : 0.0f;
    out[v * C * plane + augmath::outputOffset(c, i, j, p)] = isnan(mean) ? mean : augmath::finishValue(acc, c, solarize, p);
  }
}

}  // namespace

namespace launch {
namespace {

cudaStream_t cudaStream(void* stream) { return static_cast<cudaStream_t>(stream); }

}  // namespace

int resample(const uint8_t* images, int64_t num_images, const int64_t* indices, const float* table, const Pipeline& p,
             int64_t views, float* unit, float* means, void* stream) {
  resampleKernel<<<static_cast<unsigned>(views), kThreads, 0, cudaStream(stream)>>>(images, num_images, indices, table,
                                                                                      p, unit, means);
  return static_cast<int>(cudaGetLastError());
}

int contrastMeans(const float* unit, const float* table, const Pipeline& p, int64_t views, float* means, void* stream) {
  meanKernel<<<static_cast<unsigned>(views), kThreads, 0, cudaStream(stream)>>>(unit, table, p, means);
  return static_cast<int>(cudaGetLastError());
}

int color(const float* in, const float* table, const float* means, const Pipeline& p, int64_t views, bool finish,
          float* out, void* stream) {
  const int64_t pixels = views * p.out_size * p.out_size;  // one thread per pixel, all channels
  colorKernel<<<gridFor(pixels), kThreads, 0, cudaStream(stream)>>>(in, table, means, p, views, finish, out);
  return static_cast<int>(cudaGetLastError());
}

int blurRows(const float* in, const float* weights, int kernel, int channels, int size, int64_t views, float* out,
             void* stream) {
  const int64_t work = views * channels * size * size;
  blurRowsKernel<<<gridFor(work), kThreads, 0, cudaStream(stream)>>>(in, weights, kernel, channels, size, views, out);
  return static_cast<int>(cudaGetLastError());
}

int blurColumns(const float* in, const float* weights, const float* table, const float* means, const Pipeline& p,
                int64_t views, float* out, void* stream) {
  const int64_t work = views * p.channels * p.out_size * p.out_size;
  blurColumnsKernel<<<gridFor(work), kThreads, 0, cudaStream(stream)>>>(in, weights, table, means, p, views, out);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace launch
}  // namespace studio::gpu
