// The tensor side of gpu/normalize_kernel.h: checks, allocation, device and stream; the
// kernel itself is in normalize_kernel.cu, which stays free of torch headers.
#include "gpu/normalize_kernel.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "gpu/normalize_launch.h"

namespace studio::gpu {

torch::Tensor normalizeUint8(const torch::Tensor& images, const std::vector<float>& mean, const std::vector<float>& std) {
  TORCH_CHECK(images.is_cuda(), "normalizeUint8: images must be on a CUDA device");
  TORCH_CHECK(images.scalar_type() == torch::kUInt8 && images.dim() == 4, "normalizeUint8: expected uint8 [N,C,H,W]");
  const int channels = static_cast<int>(images.size(1));
  TORCH_CHECK(channels <= launch::kNormalizeMaxChannels && mean.size() == size_t(channels) &&
                  std.size() == size_t(channels),
              "normalizeUint8: one mean and std per channel (at most 4 channels)");
  const c10::cuda::CUDAGuard guard(images.device());
  const auto in = images.contiguous();
  auto out = torch::empty(in.sizes(), in.options().dtype(torch::kFloat32));
  const int64_t total = in.numel();
  if (total == 0) return out;
  // The launcher returns cudaGetLastError(): the same failure C10_CUDA_KERNEL_LAUNCH_CHECK gave.
  C10_CUDA_CHECK(static_cast<cudaError_t>(launch::normalize(in.data_ptr<uint8_t>(), out.data_ptr<float>(),
                                                            in.size(2) * in.size(3), channels, total, mean.data(),
                                                            std.data(), c10::cuda::getCurrentCUDAStream().stream())));
  return out;
}

}  // namespace studio::gpu
