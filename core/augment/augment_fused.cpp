#include "core/augment/augment_fused.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <vector>

#include "core/augment/augment_math.h"

namespace studio {
namespace {

using augmath::Pipeline;

// Per-thread scratch: one view's planes and its sampling coordinates.
struct Scratch {
  std::vector<float> unit, blurred;
  std::vector<augmath::AxisTap> xs, ys;
};

void augmentView(const uint8_t* image, const float* row, const float* blur_weights, const Pipeline& p, float* out,
                 Scratch& s) {
  const int C = p.channels, H = p.in_height, W = p.in_width, S = p.out_size;
  const int64_t plane = static_cast<int64_t>(S) * S;
  const augmath::CropMap m = augmath::cropMap(row);
  for (int j = 0; j < S; ++j) s.xs[j] = augmath::axisTap(augmath::sourceCoord(j, S, m.sx, m.ox, W), W);
  for (int i = 0; i < S; ++i) s.ys[i] = augmath::axisTap(augmath::sourceCoord(i, S, m.sy, m.oy, H), H);
  float* unit = s.unit.data();
  for (int c = 0; c < C; ++c) {
    const uint8_t* src = image + static_cast<int64_t>(c) * H * W;
    float* dst = unit + c * plane;
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < S; ++j) dst[i * S + j] = augmath::bilinear(src, W, s.ys[i], s.xs[j]);
  }
  // The contrast step centres on the mean gray level of the brightened view.
  double sum = 0;
  float v[augmath::kMaxChannels];
  const float brightness = row[kBrightness];
  for (int64_t px = 0; px < plane; ++px) {
    for (int c = 0; c < C; ++c) v[c] = augmath::brighten(unit[c * plane + px], brightness);
    sum += augmath::contrastSample(v, C);
  }
  const double count = static_cast<double>(plane) * (C == 3 ? 1 : C);
  const float mean = static_cast<float>(sum / count);
  const bool solarize = row[kSolarize] > 0.5f;
  for (int i = 0; i < S; ++i)
    for (int j = 0; j < S; ++j) {
      const int64_t px = static_cast<int64_t>(i) * S + j;
      for (int c = 0; c < C; ++c) v[c] = unit[c * plane + px];
      augmath::colorPixel(v, row, mean, p);
      if (p.blur) {
        for (int c = 0; c < C; ++c) unit[c * plane + px] = v[c];
      } else {
        for (int c = 0; c < C; ++c) out[augmath::outputOffset(c, i, j, p)] = augmath::finishValue(v[c], c, solarize, p);
      }
    }
  if (!p.blur) return;
  // Separable blur: rows into `blurred`, then columns into the output with the last steps.
  const int K = p.blur_kernel, r = K / 2;
  float* tmp = s.blurred.data();
  for (int c = 0; c < C; ++c) {
    const float* src = unit + c * plane;
    float* dst = tmp + c * plane;
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < S; ++j) {
        float acc = 0.0f;
        for (int k = 0; k < K; ++k) acc += blur_weights[k] * src[i * S + augmath::blurTapIndex(j, k, r, S)];
        dst[i * S + j] = acc;
      }
  }
  for (int c = 0; c < C; ++c) {
    const float* src = tmp + c * plane;
    for (int i = 0; i < S; ++i)
      for (int j = 0; j < S; ++j) {
        float acc = 0.0f;
        for (int k = 0; k < K; ++k) acc += blur_weights[k] * src[augmath::blurTapIndex(i, k, r, S) * S + j];
        out[augmath::outputOffset(c, i, j, p)] = augmath::finishValue(acc, c, solarize, p);
      }
  }
}

}  // namespace

torch::Tensor applyFusedCpu(const Augmenter& augmenter, const torch::Tensor& images, const torch::Tensor& indices,
                            const torch::Tensor& table, bool normalize, bool channels_last, bool use_threads) {
  TORCH_CHECK(images.device().is_cpu() && images.scalar_type() == torch::kUInt8 && images.dim() == 4,
              "applyFusedCpu: images must be uint8 [M,C,H,W] on the CPU");
  TORCH_CHECK(table.dim() == 2 && table.size(1) == kAugmentColumns, "applyFusedCpu: the table must be [N, ",
              int64_t(kAugmentColumns), "]");
  const int64_t n = table.size(0);
  const Pipeline p = augmenter.pipeline(table, normalize, channels_last);
  TORCH_CHECK(images.size(1) == p.channels && images.size(2) == p.in_height && images.size(3) == p.in_width,
              "applyFusedCpu: images are ", images.sizes(), " but the augmenter expects [M, ", p.channels, ", ",
              p.in_height, ", ", p.in_width, "]");
  const auto src = images.contiguous();
  torch::Tensor idx;
  if (indices.defined()) {
    idx = indices.to(torch::kCPU, torch::kLong).contiguous();
    TORCH_CHECK(idx.dim() == 1 && idx.size(0) == n, "applyFusedCpu: one index per table row expected");
    if (n > 0)
      TORCH_CHECK(idx.min().item<int64_t>() >= 0 && idx.max().item<int64_t>() < src.size(0),
                  "applyFusedCpu: an index is outside [0, ", src.size(0), ")");
  } else {
    TORCH_CHECK(src.size(0) >= n, "applyFusedCpu: ", n, " views but only ", src.size(0), " images");
  }
  const auto t = table.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto weights = p.blur ? augmenter.blurWeights(t) : torch::Tensor();
  const int64_t S = p.out_size, C = p.channels;
  auto out = torch::empty({n, C, S, S}, torch::TensorOptions()
                                            .dtype(torch::kFloat32)
                                            .memory_format(channels_last ? torch::MemoryFormat::ChannelsLast
                                                                         : torch::MemoryFormat::Contiguous));
  const uint8_t* image_base = src.data_ptr<uint8_t>();
  const int64_t image_bytes = C * p.in_height * p.in_width;
  const int64_t* idx_ptr = idx.defined() ? idx.data_ptr<int64_t>() : nullptr;
  const float* rows = t.data_ptr<float>();
  const float* w = weights.defined() ? weights.data_ptr<float>() : nullptr;
  float* out_base = out.data_ptr<float>();  // NCHW or NHWC storage; one view is C*S*S floats either way
  // One view per task; a grain of n runs the whole batch inline on this thread.
  at::parallel_for(0, n, use_threads ? 1 : std::max<int64_t>(n, 1), [&](int64_t begin, int64_t end) {
    Scratch s;
    s.unit.resize(static_cast<size_t>(C * S * S));
    if (p.blur) s.blurred.resize(s.unit.size());
    s.xs.resize(static_cast<size_t>(S));
    s.ys.resize(static_cast<size_t>(S));
    for (int64_t v = begin; v < end; ++v) {
      const int64_t image = idx_ptr ? idx_ptr[v] : v;
      augmentView(image_base + image * image_bytes, rows + v * kAugmentColumns, w ? w + v * p.blur_kernel : nullptr, p,
                  out_base + v * C * S * S, s);
    }
  });
  return out;
}

}  // namespace studio
