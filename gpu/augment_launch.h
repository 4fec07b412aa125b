#pragma once
// The kernels of gpu/augment_kernels.h behind plain launchers on raw device pointers, so the
// .cu file that holds them includes no torch header (nvcc on torch headers takes minutes);
// gpu/augment_kernels.cpp checks the tensors, allocates and calls these.
// Each launcher enqueues one kernel on `stream` (a cudaStream_t, as void* so this header
// needs no CUDA header) and returns cudaGetLastError() as an int: 0 (cudaSuccess) or the
// cudaError_t of a failed launch. `views` must be > 0; all pointers are on the current device.
#include <cstdint>

#include "core/augment/augment_math.h"

namespace studio::gpu::launch {

// Pass 1, one block per view: crop + flip resampling of uint8 `images` ([num_images,C,H,W])
// into `unit` (float [views,C,S,S], values in [0, 1]). `indices` (may be null: view v reads
// image v) picks each view's image; an index outside [0, num_images) gives a view of NaNs.
// `means` (may be null) receives each view's contrast mean.
int resample(const uint8_t* images, int64_t num_images, const int64_t* indices, const float* table,
             const augmath::Pipeline& p, int64_t views, float* unit, float* means, void* stream);

// The contrast means of float views in [0, 1] ([views,C,S,S]), one block per view.
int contrastMeans(const float* unit, const float* table, const augmath::Pipeline& p, int64_t views, float* means,
                  void* stream);

// Pass 2: colour jitter + grayscale. finish: also solarize + normalise into `out` in the
// output layout; else into the NCHW buffer `out`, which may be `in`.
int color(const float* in, const float* table, const float* means, const augmath::Pipeline& p, int64_t views,
          bool finish, float* out, void* stream);

// Pass 3a: rows blurred with each view's weights ([views, kernel]); NCHW in and out.
int blurRows(const float* in, const float* weights, int kernel, int channels, int size, int64_t views, float* out,
             void* stream);

// Pass 3b: columns blurred, then clamp, solarize (`table` may be null: none) and normalise
// into the output layout; `means` (may be null) marks the views of bad indices (NaN).
int blurColumns(const float* in, const float* weights, const float* table, const float* means,
                const augmath::Pipeline& p, int64_t views, float* out, void* stream);

}  // namespace studio::gpu::launch
