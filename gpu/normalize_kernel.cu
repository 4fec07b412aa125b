// The kernel of gpu/normalize_kernel.h and its launcher (gpu/normalize_launch.h). No torch
// header here: nvcc on them took minutes; the tensor side is gpu/normalize_kernel.cpp.
#include "gpu/normalize_launch.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace studio::gpu {
namespace {

constexpr int kMaxChannels = launch::kNormalizeMaxChannels;

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

namespace launch {

int normalize(const uint8_t* in, float* out, int64_t plane, int channels, int64_t total, const float* mean,
              const float* std, void* stream) {
  ChannelAffine affine{};
  for (int c = 0; c < channels; ++c) {
    affine.scale[c] = 1.0f / (255.0f * std[c]);
    affine.shift[c] = -mean[c] / std[c];
  }
  const int threads = 256;
  const int64_t work = (total + 3) / 4;  // one thread per four pixels
  const int64_t blocks = (work + threads - 1) / threads;
  normalizeKernel<<<static_cast<unsigned>(blocks), threads, 0, static_cast<cudaStream_t>(stream)>>>(
      in, out, plane, channels, total, affine);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace launch
}  // namespace studio::gpu
