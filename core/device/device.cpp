#include "core/device/device.h"

#include <c10/core/CachingDeviceAllocator.h>
#include <torch/torch.h>

#include <dlfcn.h>

#include <mutex>

#include "core/base/error.h"

#include "core/device/device_kernels.h"

namespace studio {

namespace {

struct CudaSupport {
  bool loaded = STUDIO_TORCH_HAS_CUDA != 0;
  std::string problem;  // why the add-on did not load
};

CudaSupport& cudaSupport() {
  static CudaSupport support;
  return support;
}

}  // namespace

void loadCudaSupport() {
#if !STUDIO_TORCH_HAS_CUDA
  static std::once_flag once;
  std::call_once(once, [] {
    // Found through the executable's RUNPATH (the package's private library folder). Kept
    // loaded for the life of the process: its static registrations are torch's CUDA backend.
    if (dlopen("libtorch_cuda.so", RTLD_NOW | RTLD_GLOBAL)) {
      cudaSupport().loaded = true;
    } else {
      const char* error = dlerror();
      cudaSupport().problem = error ? error : "libtorch_cuda.so could not be loaded";
    }
  });
#endif
}

bool cudaAvailable() {
  loadCudaSupport();
  return torch::cuda::is_available();
}

std::string cudaSupportSummary() {
  loadCudaSupport();
  const CudaSupport& s = cudaSupport();
  if (!s.loaded) return "CUDA: not available (CPU-only build; the CUDA add-on is not installed: " + s.problem + ")";
  const std::string how = STUDIO_TORCH_HAS_CUDA ? "linked" : "loaded from the add-on";
  const auto devices = torch::cuda::device_count();
  if (devices == 0) return "CUDA: " + how + ", no device (no NVIDIA GPU or driver found)";
  return "CUDA: " + how + ", " + std::to_string(devices) + " device(s)";
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
    throwBadInput(quoted + ", but " + (cudaSupport().loaded ? "no CUDA device is available on this machine (use auto or cpu)"
                                                         : "this installation runs on the CPU only: install the "
                                                           "contrastive-studio-cuda add-on for NVIDIA GPUs (" +
                                                               cudaSupport().problem + ")"));
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
  const DeviceKernels* kernels = deviceKernels();
  facts.kernels = kernels != nullptr;
  facts.cuda_graphs = kernels && kernels->cuda_graphs_available();
  if (!device.is_cuda()) return facts;
  const int index = device.has_index() ? device.index() : 0;
  if (kernels) {
    try {
      const GpuFacts gpu = kernels->gpu_facts(index);
      facts.name = gpu.name;
      facts.free_bytes = gpu.free_bytes;
      facts.total_bytes = gpu.total_bytes;
      facts.bf16 = gpu.bf16;
      return facts;
    } catch (const std::exception&) {
      // Fall through to what torch itself can say.
    }
  }
  try {
    const auto [free, total] = c10::getDeviceAllocator(c10::kCUDA)->getMemoryInfo(static_cast<c10::DeviceIndex>(index));
    facts.free_bytes = static_cast<int64_t>(free);
    facts.total_bytes = static_cast<int64_t>(total);
  } catch (const c10::Error&) {
  }
  return facts;
}

}  // namespace studio
