#pragma once
// The checks that need an NVIDIA GPU, Qt-free so that studio-gpu-check runs them on a GPU
// machine without Qt, and tests/test_gpu_kernels.cpp runs the same ones under Qt Test.
// Each check compares against core's CPU reference or against another run, and says what
// it measured.
#include <string>
#include <vector>

namespace studio::gpu {

struct CheckResult {
  std::string name;
  bool passed = false;
  std::string detail;  // the measured figure and the bound it was held to
};

// Every kernel against the torch-ops reference (and the fused CPU applier) on fresh random
// images of several sizes, odd shapes and 1 to 4 channels.
std::vector<CheckResult> runKernelChecks();

// Short training runs on the GPU (scratch_dir holds their run folders): a bf16 run whose
// loss falls and overlaps the fp32 run; the same first loss with the images resident or
// uploaded per step, with and without prefetching, with the kernels or the torch ops;
// out of memory under a capped allocator stops with a fitting batch size and a checkpoint.
std::vector<CheckResult> runTrainingChecks(const std::string& scratch_dir);

}  // namespace studio::gpu
