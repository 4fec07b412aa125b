#pragma once
// Which device a run uses: "auto" picks CUDA when this build and machine have it.
#include <string>

#include <c10/core/Device.h>

namespace studio {

// Throws studio::Error(BadInput) when a CUDA device is asked for and none is usable,
// naming the reason (no CUDA in this build, or no device).
c10::Device resolveDevice(const std::string& spec);
std::string describeDevice(const c10::Device& device);  // e.g. "cpu (2 threads)", "cuda:0 (NVIDIA H100)"
bool cudaAvailable();

}  // namespace studio
