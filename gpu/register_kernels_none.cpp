// A build without nvcc: no kernels to register. The engine then augments on CUDA devices
// with torch's ops and captures no CUDA graphs (core/device/device_kernels.h).
#include "gpu/register_kernels.h"

namespace studio::gpu {

void registerDeviceKernels() {}

}  // namespace studio::gpu
