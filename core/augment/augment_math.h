#pragma once
// The per-pixel math of the fused augmentation, written once for the CUDA kernels (gpu/)
// and the CPU applier (core/augment/augment_fused.cpp). Each function mirrors one operation of the
// torch-ops reference in core/augment/augment.cpp, in the same order and with the same float32
// operations, so that a CPU test of this header checks what the kernels compute. The CUDA
// sources are compiled with --fmad=false: no contraction into fused multiply-adds, as on
// the host (C++17 without GNU extensions: -ffp-contract=off).
//
// Differences from the reference that remain, all at the level of float rounding: the
// affine grid is computed in closed form (torch uses linspace then a batched matmul), the
// contrast mean is summed in double (torch sums floats in a cascade), the blur's taps are
// summed in order (torch's convolution picks its own order) and exp() comes from the C
// library (torch vectorises it).
#include <cmath>
#include <cstdint>

#include "core/augment/augment_columns.h"

#if defined(__CUDACC__)
#define STUDIO_HD __host__ __device__ __forceinline__
#else
#define STUDIO_HD inline
#endif

namespace studio::augmath {

constexpr int kMaxChannels = 4;

// Everything a batch's pass needs besides the images and the table. Some switches are
// batch-wide because the reference decides them from the whole table.
struct Pipeline {
  int channels = 1;  // 1..4; colour operations only when 3
  int in_height = 0, in_width = 0;
  int out_size = 0;
  int blur_kernel = 3;  // odd
  float solarize_threshold = 0.5f;
  float mean[kMaxChannels] = {0, 0, 0, 0};
  float std[kMaxChannels] = {1, 1, 1, 1};
  bool hue = false;       // a view shifts hue: every view goes through HSV and back
  bool blur = false;      // a view is blurred: blur pass for all (sigma 0 = exact delta), then clamp
  bool solarize = false;  // a view is solarized
  bool normalize = true;  // false: values stay in [0, 1] (previews, tests)
  bool channels_last = false;  // output memory layout NHWC (the tensor stays logically NCHW)
};

STUDIO_HD float clamp01(float v) { return fminf(fmaxf(v, 0.0f), 1.0f); }

STUDIO_HD float unitValue(uint8_t v) { return static_cast<float>(v) / 255.0f; }

// torch.remainder for floats: fmod, then the divisor added where the signs differ. The
// common cases skip fmodf, with the same results: fmod(a, b) is a itself for |a| < b, and
// a - b (exact, by Sterbenz's lemma) for b <= a < 2b.
STUDIO_HD float torchRemainder(float a, float b) {
  float m;
  if (b > 0.0f && a > -b && a < b)
    m = a;
  else if (b > 0.0f && a >= b && a < 2.0f * b)
    m = a - b;
  else
    m = fmodf(a, b);
  if (m != 0.0f && ((b < 0.0f) != (m < 0.0f))) m += b;
  return m;
}

// Source coordinate (in input pixels, border-clipped) of output pixel j along one axis:
// affine_grid with align_corners=false gives base (2j+1)/S - 1, mapped by scale and
// offset; grid_sample un-normalises it as (g + 1) * size/2 - 1/2 and clips it to the image.
STUDIO_HD float sourceCoord(int j, int out_size, float scale, float offset, int in_size) {
  const float base = (2.0f * static_cast<float>(j) + 1.0f - static_cast<float>(out_size)) / static_cast<float>(out_size);
  const float g = base * scale + offset;
  const float x = (g + 1.0f) * (static_cast<float>(in_size) / 2.0f) - 0.5f;
  return fminf(static_cast<float>(in_size - 1), fmaxf(0.0f, x));
}

// The affine map of one view's row: x scale and offset (mirrored for flipped views), y ditto.
struct CropMap {
  float sx, ox, sy, oy;
};
STUDIO_HD CropMap cropMap(const float* row) {
  const float w = row[kCropW], h = row[kCropH];
  CropMap m;
  m.sx = w * (1.0f - 2.0f * row[kFlip]);
  m.ox = 2.0f * row[kCropX0] + w - 1.0f;
  m.sy = h;
  m.oy = 2.0f * row[kCropY0] + h - 1.0f;
  return m;
}

// One axis of a bilinear sample at a clipped location: the first pixel, whether the next
// one exists (beyond the last row/column its weight is 0 and it reads as 0, as in torch's
// CPU grid sampler), and the two weights. Separable: a view computes them once per row and
// once per column.
struct AxisTap {
  int first;
  bool has_next;
  float near_weight, far_weight;  // 1 - fraction, fraction
};
STUDIO_HD AxisTap axisTap(float coord, int size) {
  const float lower = floorf(coord);
  AxisTap t;
  t.first = static_cast<int>(lower);
  t.has_next = t.first + 1 < size;
  t.far_weight = coord - lower;
  t.near_weight = 1.0f - t.far_weight;
  return t;
}

// Bilinear sample of a uint8 plane (row-major, w wide), values /255, the corners weighted
// and summed as torch's CPU grid sampler does.
STUDIO_HD float bilinear(const uint8_t* plane, int w, const AxisTap& ty, const AxisTap& tx) {
  const float nw = ty.near_weight * tx.near_weight, ne = ty.near_weight * tx.far_weight;
  const float sw = ty.far_weight * tx.near_weight, se = ty.far_weight * tx.far_weight;
  const uint8_t* p = plane + static_cast<int64_t>(ty.first) * w + tx.first;
  const float v_nw = unitValue(p[0]);
  const float v_ne = tx.has_next ? unitValue(p[1]) : 0.0f;
  const float v_sw = ty.has_next ? unitValue(p[w]) : 0.0f;
  const float v_se = tx.has_next && ty.has_next ? unitValue(p[w + 1]) : 0.0f;
  return v_nw * nw + v_ne * ne + v_sw * sw + v_se * se;
}

// ITU-R 601 luma, as core's rgbToGray.
STUDIO_HD float grayOf(float r, float g, float b) { return 0.299f * r + 0.587f * g + 0.114f * b; }

// Brightness then clamp: the first jitter step, also what the contrast mean is taken over.
STUDIO_HD float brighten(float v, float factor) { return clamp01(v * factor); }

// The value the contrast step centres on, for one pixel of a brightened view: its gray
// level (colour) or the channels themselves (summed; divided by C*S*S for the mean).
STUDIO_HD float contrastSample(const float* v, int channels) {
  if (channels == 3) return grayOf(v[0], v[1], v[2]);
  float s = 0.0f;
  for (int c = 0; c < channels; ++c) s += v[c];
  return s;
}

// RGB -> HSV, hue shifted by `shift` turns, -> RGB, as core's shiftHue.
STUDIO_HD void shiftHue(float* v, float shift) {
  const float r = v[0], g = v[1], b = v[2];
  const float maxc = fmaxf(fmaxf(r, g), b), minc = fminf(fminf(r, g), b);
  const float delta = maxc - minc;
  const float safe_delta = delta > 0.0f ? delta : 1.0f;
  const float sat = maxc > 0.0f ? delta / maxc : 0.0f;
  float hue;
  if (maxc == r)
    hue = (g - b) / safe_delta;
  else if (maxc == g)
    hue = 2.0f + (b - r) / safe_delta;
  else
    hue = 4.0f + (r - g) / safe_delta;
  hue = delta > 0.0f ? hue / 6.0f : 0.0f;
  hue = torchRemainder(hue + shift, 1.0f);
  const float ns[3] = {5.0f, 3.0f, 1.0f};
  for (int c = 0; c < 3; ++c) {
    const float k = torchRemainder(ns[c] + hue * 6.0f, 6.0f);
    v[c] = maxc - maxc * sat * clamp01(fminf(k, 4.0f - k));
  }
}

// Colour jitter (brightness, contrast around `mean`, saturation, hue) then grayscale, on
// one pixel's channels in place: the reference's colorJitter and grayscale steps.
STUDIO_HD void colorPixel(float* v, const float* row, float mean, const Pipeline& p) {
  const int channels = p.channels;
  const float contrast = row[kContrast];
  for (int c = 0; c < channels; ++c) {
    const float x = brighten(v[c], row[kBrightness]);
    v[c] = clamp01((x - mean) * contrast + mean);
  }
  if (channels != 3) return;
  const float g = grayOf(v[0], v[1], v[2]);
  const float saturation = row[kSaturation];
  for (int c = 0; c < 3; ++c) v[c] = clamp01((v[c] - g) * saturation + g);
  if (p.hue) shiftHue(v, row[kHue]);
  const float gray = row[kGray];
  if (gray != 0.0f) {
    const float y = grayOf(v[0], v[1], v[2]);
    for (int c = 0; c < 3; ++c) v[c] = v[c] * (1.0f - gray) + y * gray;
  }
}

// Blur taps: pixel index of tap k (0..kernel-1) around i in a line of n pixels, reflected
// at the edges as torch's reflect padding (replicated where the line is not longer than
// the radius, as the reference chooses).
STUDIO_HD int blurTapIndex(int i, int k, int radius, int n) {
  int j = i + k - radius;
  if (radius < n) {
    if (j < 0) j = -j;
    if (j >= n) j = 2 * (n - 1) - j;
  } else {
    j = j < 0 ? 0 : (j >= n ? n - 1 : j);
  }
  return j;
}

// The last steps of every pixel: clamp after a blur, solarize, normalise.
STUDIO_HD float finishValue(float v, int channel, bool solarize_view, const Pipeline& p) {
  if (p.blur) v = clamp01(v);
  if (p.solarize && solarize_view && v >= p.solarize_threshold) v = 1.0f - v;
  if (p.normalize) v = (v - p.mean[channel]) / p.std[channel];
  return v;
}

// Offset of element (c, y, x) of one view in the output layout.
STUDIO_HD int64_t outputOffset(int c, int y, int x, const Pipeline& p) {
  const int s = p.out_size;
  return p.channels_last ? (static_cast<int64_t>(y) * s + x) * p.channels + c : (static_cast<int64_t>(c) * s + y) * s + x;
}

// One view's normalised 1-D Gaussian (a delta when sigma is 0), as the reference builds it.
inline void blurWeights(float sigma, int kernel, float* out) {
  const int radius = kernel / 2;
  if (!(sigma > 0.0f)) {
    for (int k = 0; k < kernel; ++k) out[k] = k == radius ? 1.0f : 0.0f;
    return;
  }
  const float s = fmaxf(sigma, 1e-6f);
  const float denom = 2.0f * (s * s);
  float sum = 0.0f;
  for (int k = 0; k < kernel; ++k) {
    const float o = static_cast<float>(k - radius);
    out[k] = std::exp(-(o * o) / denom);
    sum += out[k];
  }
  for (int k = 0; k < kernel; ++k) out[k] = out[k] / sum;
}

}  // namespace studio::augmath
