#pragma once
// Plugs this build's CUDA kernels into the engine (core/device/device_kernels.h). Every client
// (the CLI, the studio, the benchmark, the GPU check) calls it once at start-up. In a build
// without nvcc the same function exists and registers nothing, so clients need no #if.
namespace studio::gpu {

void registerDeviceKernels();

}  // namespace studio::gpu
