#include "gpu/register_kernels.h"

#include "core/device/device_kernels.h"
#include "gpu/augment_kernels.h"
#include "gpu/captured_step.h"
#include "gpu/device_info.h"

namespace studio::gpu {

void registerDeviceKernels() {
  DeviceKernels k;
  k.augment_views = &augmentViews;
  k.cuda_graphs_available = &cudaGraphsAvailable;
  k.capture_pass = [](PassBody body) -> std::unique_ptr<CapturedPass> { return std::make_unique<CapturedStep>(std::move(body)); };
  k.gpu_facts = [](int index) {
    const DeviceInfo info = deviceInfo(index);
    GpuFacts facts;
    facts.name = info.name;
    facts.free_bytes = static_cast<int64_t>(info.free_bytes);
    facts.total_bytes = static_cast<int64_t>(info.total_bytes);
    facts.bf16 = info.supportsBfloat16();
    return facts;
  };
  studio::registerDeviceKernels(std::move(k));
}

}  // namespace studio::gpu
