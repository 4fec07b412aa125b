#pragma once
// Which device a run uses: "auto" picks CUDA when this build and machine have it.
#include <string>

#include <c10/core/Device.h>

#include "core/device/engine_plan.h"

namespace studio {

// spec: auto | cpu | cuda | cuda:N. Throws studio::Error(BadInput), naming the setting
// (setting_name, e.g. "train.device" or "--device"), for any other string and when a CUDA
// device is asked for and none is usable (no CUDA in this build, or no such device).
c10::Device resolveDevice(const std::string& spec, const std::string& setting_name = "train.device");
std::string describeDevice(const c10::Device& device);  // e.g. "cpu (2 threads)", "cuda:0 (NVIDIA H100)"
bool cudaAvailable();
// Name, memory and bf16 support of a CUDA device (CPU: defaults); the CUDA kernels'
// presence in this build.
DeviceFacts queryDeviceFacts(const c10::Device& device);

// Builds linked against LibTorch's CPU libraries only (the installed package) get CUDA from
// the optional add-on: libtorch_cuda.so loaded at start registers torch's CUDA backend.
// Call it first thing in main(), before anything asks torch about CUDA (torch caches the
// answer). Idempotent; a no-op in builds linked with CUDA.
void loadCudaSupport();
// One line on where CUDA support stands: linked, loaded from the add-on, or why not
// ("libtorch_cuda.so: cannot open shared object file ..."), and the devices found.
std::string cudaSupportSummary();

}  // namespace studio
