#include "gpu/captured_step.h"

#include <algorithm>
#include <stdexcept>

// The real implementation needs libtorch_cuda (at::cuda::CUDAGraph), which the build links
// only where all of its libraries resolve (STUDIO_TORCH_HAS_CUDA). Elsewhere the class is
// a stub that refuses to start, and a compile-only target (gpu/CMakeLists.txt) still
// compiles the real code so that it cannot rot unseen.
#if STUDIO_TORCH_HAS_CUDA || STUDIO_CAPTURED_STEP_COMPILE_CHECK

#include <ATen/autocast_mode.h>
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

namespace studio::gpu {

struct CapturedStep::Impl {
  Body body;
  int warmup_runs = 3, runs = 0;
  c10::cuda::CUDAStream side = c10::cuda::getStreamFromPool();
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  torch::Tensor input;  // the static input the pass reads
  std::vector<torch::Tensor> outputs;

  // The pass on the side stream, ordered after the current stream's work and before
  // whatever the current stream does next.
  template <typename F>
  void onSideStream(F&& f) {
    const auto current = c10::cuda::getCurrentCUDAStream();
    at::cuda::CUDAEvent ready;
    ready.record(current);
    ready.block(side);
    {
      const c10::cuda::CUDAStreamGuard guard(side);
      f();
    }
    at::cuda::CUDAEvent done;
    done.record(side);
    done.block(current);
  }
};

CapturedStep::CapturedStep(Body body, int warmup_runs) : impl_(std::make_unique<Impl>()) {
  impl_->body = std::move(body);
  impl_->warmup_runs = std::max(1, warmup_runs);
}

CapturedStep::~CapturedStep() = default;

bool CapturedStep::captured() const { return impl_->graph != nullptr; }

std::vector<torch::Tensor> CapturedStep::run(const torch::Tensor& input) {
  auto& s = *impl_;
  TORCH_CHECK(input.is_cuda(), "CapturedStep: the input must be on a CUDA device");
  if (!s.input.defined()) s.input = torch::empty_strided(input.sizes(), input.strides(), input.options());
  TORCH_CHECK(s.input.sizes() == input.sizes() && s.input.strides() == input.strides() &&
                  s.input.scalar_type() == input.scalar_type(),
              "CapturedStep: the input changed shape, type or layout after the first run");
  s.input.copy_(input);
  // Autocast's cache of reduced-precision weights would be recorded with stale copies.
  const bool cache = at::autocast::is_autocast_cache_enabled();
  at::autocast::set_autocast_cache_enabled(false);
  try {
    if (s.graph) {
      s.graph->replay();
    } else if (s.runs < s.warmup_runs) {
      s.onSideStream([&] { s.outputs = s.body(s.input); });
    } else {
      auto graph = std::make_unique<at::cuda::CUDAGraph>();
      s.onSideStream([&] {
        // Thread-local capture: the prefetch thread may still allocate pinned memory.
        graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
        try {
          s.outputs = s.body(s.input);
        } catch (...) {
          try {
            graph->capture_end();
          } catch (...) {
          }
          throw;
        }
        graph->capture_end();
      });
      s.graph = std::move(graph);
      s.graph->replay();  // the capture recorded the work; this runs it
    }
  } catch (...) {
    at::autocast::set_autocast_cache_enabled(cache);
    throw;
  }
  at::autocast::set_autocast_cache_enabled(cache);
  ++s.runs;
  return s.outputs;
}

bool cudaGraphsAvailable() { return true; }

}  // namespace studio::gpu

#else

namespace studio::gpu {

struct CapturedStep::Impl {};

CapturedStep::CapturedStep(Body, int) {
  throw std::runtime_error("CUDA graphs need LibTorch's CUDA runtime, which this build does not link");
}
CapturedStep::~CapturedStep() = default;
bool CapturedStep::captured() const { return false; }
std::vector<torch::Tensor> CapturedStep::run(const torch::Tensor&) { return {}; }
bool cudaGraphsAvailable() { return false; }

}  // namespace studio::gpu

#endif
