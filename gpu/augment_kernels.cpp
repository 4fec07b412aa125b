// The tensor side of gpu/augment_kernels.h: checks, allocation, device and stream; the
// kernels themselves are in augment_kernels.cu, which stays free of torch headers.
#include "gpu/augment_kernels.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "core/augment/augment_columns.h"
#include "gpu/augment_launch.h"

namespace studio::gpu {
namespace {

using augmath::Pipeline;

// A launcher returns cudaGetLastError(): raised as C10_CUDA_KERNEL_LAUNCH_CHECK did.
void checkLaunch(int error) { C10_CUDA_CHECK(static_cast<cudaError_t>(error)); }

void* currentStream() { return c10::cuda::getCurrentCUDAStream().stream(); }

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
  void* const stream = currentStream();
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
  checkLaunch(launch::resample(src.data_ptr<uint8_t>(), src.size(0), idx.defined() ? idx.data_ptr<int64_t>() : nullptr,
                               tab.data_ptr<float>(), p, n, unit.data_ptr<float>(), means.data_ptr<float>(), stream));
  if (!p.blur) {
    checkLaunch(launch::color(unit.data_ptr<float>(), tab.data_ptr<float>(), means.data_ptr<float>(), p, n,
                              /*finish=*/true, out.data_ptr<float>(), stream));
    return out;
  }
  TORCH_CHECK(blur_weights.defined() && blur_weights.dim() == 2 && blur_weights.size(0) == n &&
                  blur_weights.size(1) == p.blur_kernel,
              "gpu augmentation: blur weights must be [N, blur_kernel] (Augmenter::blurWeights)");
  const auto w = onDevice(blur_weights, src.device(), torch::kFloat32);
  checkLaunch(launch::color(unit.data_ptr<float>(), tab.data_ptr<float>(), means.data_ptr<float>(), p, n,
                            /*finish=*/false, unit.data_ptr<float>(), stream));
  auto rows = torch::empty_like(unit);
  checkLaunch(launch::blurRows(unit.data_ptr<float>(), w.data_ptr<float>(), p.blur_kernel, p.channels, p.out_size, n,
                               rows.data_ptr<float>(), stream));
  checkLaunch(launch::blurColumns(rows.data_ptr<float>(), w.data_ptr<float>(), tab.data_ptr<float>(),
                                  means.data_ptr<float>(), p, n, out.data_ptr<float>(), stream));
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
  checkLaunch(launch::resample(src.data_ptr<uint8_t>(), src.size(0), nullptr, tab.data_ptr<float>(), p, n,
                               unit.data_ptr<float>(), nullptr, currentStream()));
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
  void* const stream = currentStream();
  auto out = torch::empty_like(in);
  if (n == 0) return out;
  const auto tab = onDevice(table, in.device(), torch::kFloat32);
  auto means = torch::empty({n}, in.options());
  checkLaunch(launch::contrastMeans(in.data_ptr<float>(), tab.data_ptr<float>(), p, n, means.data_ptr<float>(), stream));
  checkLaunch(launch::color(in.data_ptr<float>(), tab.data_ptr<float>(), means.data_ptr<float>(), p, n,
                            /*finish=*/false, out.data_ptr<float>(), stream));
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
  void* const stream = currentStream();
  auto out = torch::empty_like(in);
  if (n == 0) return out;
  const auto w = onDevice(blur_weights, in.device(), torch::kFloat32);
  auto rows = torch::empty_like(in);
  checkLaunch(launch::blurRows(in.data_ptr<float>(), w.data_ptr<float>(), kernel, p.channels, p.out_size, n,
                               rows.data_ptr<float>(), stream));
  checkLaunch(launch::blurColumns(rows.data_ptr<float>(), w.data_ptr<float>(), nullptr, nullptr, p, n,
                                  out.data_ptr<float>(), stream));
  return out;
}

}  // namespace studio::gpu
