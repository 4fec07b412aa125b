#pragma once
// The kernel of gpu/normalize_kernel.h behind a plain launcher on raw device pointers, so the
// .cu file includes no torch header; gpu/normalize_kernel.cpp checks the tensors and calls it.
#include <cstdint>

namespace studio::gpu::launch {

constexpr int kNormalizeMaxChannels = 4;

// out[i] = (in[i]/255 - mean[c]) / std[c] over `total` > 0 values of uint8 NCHW images with
// `plane` = H*W and c = channel of i (`channels` <= kNormalizeMaxChannels; mean and std are
// host arrays of `channels` values). Enqueued on `stream` (a cudaStream_t); returns
// cudaGetLastError() as an int, 0 = cudaSuccess.
int normalize(const uint8_t* in, float* out, int64_t plane, int channels, int64_t total, const float* mean,
              const float* std, void* stream);

}  // namespace studio::gpu::launch
