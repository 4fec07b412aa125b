#pragma once
// Which device a run uses: "auto" picks CUDA when this build and machine have it.
#include <string>

#include <c10/core/Device.h>

#include "core/engine_plan.h"

namespace studio {

// spec: auto | cpu | cuda | cuda:N. Throws studio::Error(BadInput), naming the setting
// (setting_name, e.g. "train.device" or "--device"), for any other string and when a CUDA
// device is asked for and none is usable (no CUDA in this build, or no such device).
c10::Device resolveDevice(const std::string& spec, const std::string& setting_name = "train.device");
bool isDeviceSpec(const std::string& spec);
std::string describeDevice(const c10::Device& device);  // e.g. "cpu (2 threads)", "cuda:0 (NVIDIA H100)"
bool cudaAvailable();
// Name, memory and bf16 support of a CUDA device (CPU: defaults); the CUDA kernels'
// presence in this build.
DeviceFacts queryDeviceFacts(const c10::Device& device);

}  // namespace studio
