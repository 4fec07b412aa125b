#include "core/device.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include "core/error.h"

#if STUDIO_HAVE_GPU_KERNELS
#include "gpu/device_info.h"
#endif

namespace studio {

bool cudaAvailable() { return torch::cuda::is_available(); }

bool isDeviceSpec(const std::string& spec) {
  return spec == "auto" || spec == "cpu" || spec == "cuda" ||
         (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9 &&
          spec.find_first_not_of("0123456789", 5) == std::string::npos);
}

c10::Device resolveDevice(const std::string& spec, const std::string& setting_name) {
  const std::string quoted = setting_name + " = \"" + spec + "\"";
  if (!isDeviceSpec(spec)) throwBadInput(quoted + " is not one of: auto, cpu, cuda, cuda:N");
  if (spec == "cpu") return c10::Device(c10::kCPU);
  if (spec == "auto") return cudaAvailable() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (!cudaAvailable()) {
#if STUDIO_TORCH_HAS_CUDA
    throwBadInput(quoted + ", but no CUDA device is available on this machine (use auto or cpu)");
#else
    throwBadInput(quoted + ", but this build runs on the CPU only (LibTorch's CUDA libraries were not usable when it was built)");
#endif
  }
  c10::Device device(spec);
  if (device.index() >= static_cast<int>(torch::cuda::device_count()))
    throwBadInput(quoted + ", but only " + std::to_string(torch::cuda::device_count()) + " CUDA device(s) exist");
  return device;
}

std::string describeDevice(const c10::Device& device) {
  if (device.is_cpu()) return "cpu (" + std::to_string(at::get_num_threads()) + " threads)";
  const DeviceFacts facts = queryDeviceFacts(device);
  return facts.name.empty() ? device.str() : device.str() + " (" + facts.name + ")";
}

DeviceFacts queryDeviceFacts(const c10::Device& device) {
  DeviceFacts facts;
#if STUDIO_HAVE_GPU_KERNELS
  facts.kernels = true;
#endif
  if (!device.is_cuda()) return facts;
  const int index = device.has_index() ? device.index() : 0;
#if STUDIO_HAVE_GPU_KERNELS
  try {
    const gpu::DeviceInfo info = gpu::deviceInfo(index);
    facts.name = info.name;
    facts.free_bytes = static_cast<int64_t>(info.free_bytes);
    facts.total_bytes = static_cast<int64_t>(info.total_bytes);
    facts.bf16 = info.supportsBfloat16();
    return facts;
  } catch (const std::exception&) {
    // Fall through to what torch itself can say.
  }
#endif
  try {
    const auto [free, total] = c10::getDeviceAllocator(c10::kCUDA)->getMemoryInfo(static_cast<c10::DeviceIndex>(index));
    facts.free_bytes = static_cast<int64_t>(free);
    facts.total_bytes = static_cast<int64_t>(total);
  } catch (const c10::Error&) {
  }
  return facts;
}

}  // namespace studio
