#include "gpu/augment_kernels.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <algorithm>

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

void checkPipeline(const Pipeline& p) {
  TORCH_CHECK(p.channels >= 1 && p.channels <= augmath::kMaxChannels, "gpu augmentation: 1 to ", augmath::kMaxChannels,
              " channels, not ", p.channels);
  TORCH_CHECK(p.out_size > 0 && p.in_height > 0 && p.in_width > 0 && p.blur_kernel > 0 && p.blur_kernel % 2 == 1,
              "gpu augmentation: bad sizes in the pipeline");
}

torch::Tensor onDevice(const torch::Tensor& t, const torch::Device& device, torch::ScalarType type) {
  return t.to(device, type, /*non_blocking=*/t.is_pinned()).contiguous();
}

void checkTable(const torch::Tensor& table) {
  TORCH_CHECK(table.dim() == 2 && table.size(1) == kAugmentColumns, "gpu augmentation: the table must be [N, ",
              int64_t(kAugmentColumns), "]");
}

torch::Tensor checkedImages(const torch::Tensor& images, const Pipeline& p) {
  TORCH_CHECK(images.is_cuda() && images.scalar_type() == torch::kUInt8 && images.dim() == 4,
              "gpu augmentation: images must be uint8 [M,C,H,W] on a CUDA device");
  TORCH_CHECK(images.size(1) == p.channels && images.size(2) == p.in_height && images.size(3) == p.in_width,
              "gpu augmentation: images are ", images.sizes(), " but the pipeline expects [M, ", p.channels, ", ",
              p.in_height, ", ", p.in_width, "]");
  return images.contiguous();
}

torch::Tensor checkedViews(const torch::Tensor& views) {
  TORCH_CHECK(views.is_cuda() && views.scalar_type() == torch::kFloat32 && views.dim() == 4 &&
                  views.size(1) <= augmath::kMaxChannels && views.size(2) == views.size(3),
              "gpu augmentation: views must be float32 [N,C,S,S] on a CUDA device");
  return views.contiguous();
}

}  // namespace

torch::Tensor augmentViews(const torch::Tensor& images, const torch::Tensor& indices, const torch::Tensor& table,
                           const torch::Tensor& blur_weights, const Pipeline& p) {
  checkPipeline(p);
  checkTable(table);
  const auto src = checkedImages(images, p);
  const c10::cuda::CUDAGuard guard(src.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  const int64_t n = table.size(0), C = p.channels, S = p.out_size;
  torch::Tensor idx;
  if (indices.defined()) {
    TORCH_CHECK(indices.dim() == 1 && indices.size(0) == n, "gpu augmentation: one index per table row expected");
    if (!indices.is_cuda() && n > 0)
      TORCH_CHECK(indices.min().item<int64_t>() >= 0 && indices.max().item<int64_t>() < src.size(0),
                  "gpu augmentation: an index is outside [0, ", src.size(0), ")");
    idx = onDevice(indices, src.device(), torch::kLong);
  } else {
    TORCH_CHECK(src.size(0) >= n, "gpu augmentation: ", n, " views but only ", src.size(0), " images");
  }
  const auto options = src.options().dtype(torch::kFloat32);
  auto out = torch::empty({n, C, S, S}, options.memory_format(p.channels_last ? torch::MemoryFormat::ChannelsLast
                                                                               : torch::MemoryFormat::Contiguous));
  if (n == 0) return out;
  const auto tab = onDevice(table, src.device(), torch::kFloat32);
  auto means = torch::empty({n}, options);
  auto unit = torch::empty({n, C, S, S}, options);
  resampleKernel<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(
      src.data_ptr<uint8_t>(), src.size(0), idx.defined() ? idx.data_ptr<int64_t>() : nullptr, tab.data_ptr<float>(), p,
      unit.data_ptr<float>(), means.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  const int64_t pixels = n * S * S;
  if (!p.blur) {
    colorKernel<<<gridFor(pixels), kThreads, 0, stream>>>(unit.data_ptr<float>(), tab.data_ptr<float>(),
                                                          means.data_ptr<float>(), p, n, true, out.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return out;
  }
  TORCH_CHECK(blur_weights.defined() && blur_weights.dim() == 2 && blur_weights.size(0) == n &&
                  blur_weights.size(1) == p.blur_kernel,
              "gpu augmentation: blur weights must be [N, blur_kernel] (Augmenter::blurWeights)");
  const auto w = onDevice(blur_weights, src.device(), torch::kFloat32);
  colorKernel<<<gridFor(pixels), kThreads, 0, stream>>>(unit.data_ptr<float>(), tab.data_ptr<float>(),
                                                        means.data_ptr<float>(), p, n, false, unit.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  auto rows = torch::empty_like(unit);
  blurRowsKernel<<<gridFor(pixels * C), kThreads, 0, stream>>>(unit.data_ptr<float>(), w.data_ptr<float>(),
                                                               p.blur_kernel, p.channels, p.out_size, n,
                                                               rows.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  blurColumnsKernel<<<gridFor(pixels * C), kThreads, 0, stream>>>(rows.data_ptr<float>(), w.data_ptr<float>(),
                                                                  tab.data_ptr<float>(), means.data_ptr<float>(), p, n,
                                                                  out.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

torch::Tensor resampleViews(const torch::Tensor& images, const torch::Tensor& table, const Pipeline& p) {
  checkPipeline(p);
  checkTable(table);
  const auto src = checkedImages(images, p);
  const int64_t n = table.size(0);
  TORCH_CHECK(src.size(0) >= n, "gpu augmentation: ", n, " views but only ", src.size(0), " images");
  const c10::cuda::CUDAGuard guard(src.device());
  auto unit = torch::empty({n, p.channels, p.out_size, p.out_size}, src.options().dtype(torch::kFloat32));
  if (n == 0) return unit;
  const auto tab = onDevice(table, src.device(), torch::kFloat32);
  resampleKernel<<<static_cast<unsigned>(n), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      src.data_ptr<uint8_t>(), src.size(0), nullptr, tab.data_ptr<float>(), p, unit.data_ptr<float>(), nullptr);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return unit;
}

torch::Tensor colorViews(const torch::Tensor& unit_views, const torch::Tensor& table, const Pipeline& pipeline) {
  checkTable(table);
  const auto in = checkedViews(unit_views);
  const int64_t n = in.size(0);
  TORCH_CHECK(table.size(0) == n, "gpu augmentation: one table row per view expected");
  Pipeline p = pipeline;
  p.channels = static_cast<int>(in.size(1));
  p.out_size = static_cast<int>(in.size(2));
  const c10::cuda::CUDAGuard guard(in.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  auto out = torch::empty_like(in);
  if (n == 0) return out;
  const auto tab = onDevice(table, in.device(), torch::kFloat32);
  auto means = torch::empty({n}, in.options());
  meanKernel<<<static_cast<unsigned>(n), kThreads, 0, stream>>>(in.data_ptr<float>(), tab.data_ptr<float>(), p,
                                                                 means.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  colorKernel<<<gridFor(n * p.out_size * p.out_size), kThreads, 0, stream>>>(
      in.data_ptr<float>(), tab.data_ptr<float>(), means.data_ptr<float>(), p, n, false, out.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

torch::Tensor blurViews(const torch::Tensor& unit_views, const torch::Tensor& blur_weights, int kernel) {
  const auto in = checkedViews(unit_views);
  const int64_t n = in.size(0);
  TORCH_CHECK(kernel > 0 && kernel % 2 == 1 && blur_weights.dim() == 2 && blur_weights.size(0) == n &&
                  blur_weights.size(1) == kernel,
              "gpu augmentation: blur weights must be [N, kernel] with an odd kernel");
  Pipeline p;
  p.channels = static_cast<int>(in.size(1));
  p.out_size = static_cast<int>(in.size(2));
  p.blur_kernel = kernel;
  p.blur = true;
  p.normalize = false;
  const c10::cuda::CUDAGuard guard(in.device());
  const auto stream = c10::cuda::getCurrentCUDAStream();
  auto out = torch::empty_like(in);
  if (n == 0) return out;
  const auto w = onDevice(blur_weights, in.device(), torch::kFloat32);
  auto rows = torch::empty_like(in);
  const int64_t work = in.numel();
  blurRowsKernel<<<gridFor(work), kThreads, 0, stream>>>(in.data_ptr<float>(), w.data_ptr<float>(), kernel, p.channels,
                                                         p.out_size, n, rows.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  blurColumnsKernel<<<gridFor(work), kThreads, 0, stream>>>(rows.data_ptr<float>(), w.data_ptr<float>(), nullptr,
                                                            nullptr, p, n, out.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace studio::gpu
