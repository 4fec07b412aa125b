#pragma once
// What the engine asks of a CUDA device: its name and compute capability (bf16 support,
// the benchmark's peak figures) and its memory. Torch-free.
#include <cstddef>
#include <string>

namespace studio::gpu {

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
  size_t total_bytes = 0, free_bytes = 0;
  bool supportsBfloat16() const { return major >= 8; }  // Ampere and newer compute in bf16
};

// Throws std::runtime_error naming the CUDA error when the runtime cannot answer.
DeviceInfo deviceInfo(int index);

}  // namespace studio::gpu
