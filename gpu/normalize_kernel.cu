#include "gpu/normalize_kernel.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace studio::gpu {
namespace {

constexpr int kMaxChannels = 4;

struct ChannelAffine {
  float scale[kMaxChannels];  // 1 / (255 * std)
  float shift[kMaxChannels];  // -mean / std
};

// Four pixels per thread through a 32-bit load: plane sizes of the common datasets
// (28x28, 32x32, 96x96) are multiples of four; the tail is handled one by one.
__global__ void normalizeKernel(const uint8_t* __restrict__ in, float* __restrict__ out, int64_t plane, int channels,
                                int64_t total, ChannelAffine affine) {
  const int64_t i4 = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 4;
  if (i4 >= total) return;
  if (plane % 4 == 0 && i4 + 3 < total) {
    const uchar4 v = *reinterpret_cast<const uchar4*>(in + i4);
    const int c = static_cast<int>((i4 / plane) % channels);
    const float s = affine.scale[c], t = affine.shift[c];
    *reinterpret_cast<float4*>(out + i4) = make_float4(v.x * s + t, v.y * s + t, v.z * s + t, v.w * s + t);
    return;
  }
  for (int64_t i = i4; i < total && i < i4 + 4; ++i) {
    const int c = static_cast<int>((i / plane) % channels);
    out[i] = in[i] * affine.scale[c] + affine.shift[c];
  }
}

}  // namespace

torch::Tensor normalizeUint8(const torch::Tensor& images, const std::vector<float>& mean, const std::vector<float>& std) {
  TORCH_CHECK(images.is_cuda(), "normalizeUint8: images must be on a CUDA device");
  TORCH_CHECK(images.scalar_type() == torch::kUInt8 && images.dim() == 4, "normalizeUint8: expected uint8 [N,C,H,W]");
  const int channels = static_cast<int>(images.size(1));
  TORCH_CHECK(channels <= kMaxChannels && mean.size() == size_t(channels) && std.size() == size_t(channels),
              "normalizeUint8: one mean and std per channel (at most 4 channels)");
  const c10::cuda::CUDAGuard guard(images.device());
  const auto in = images.contiguous();
  auto out = torch::empty(in.sizes(), in.options().dtype(torch::kFloat32));
  ChannelAffine affine{};
  for (int c = 0; c < channels; ++c) {
    affine.scale[c] = 1.0f / (255.0f * std[c]);
    affine.shift[c] = -mean[c] / std[c];
  }
  const int64_t total = in.numel();
  if (total == 0) return out;
  const int threads = 256;
  const int64_t work = (total + 3) / 4;  // one thread per four pixels
  const int64_t blocks = (work + threads - 1) / threads;
  normalizeKernel<<<static_cast<unsigned>(blocks), threads, 0, c10::cuda::getCurrentCUDAStream()>>>(
      in.data_ptr<uint8_t>(), out.data_ptr<float>(), in.size(2) * in.size(3), channels, total, affine);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

}  // namespace studio::gpu
