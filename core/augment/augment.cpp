#include "core/augment/augment.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>

namespace F = torch::nn::functional;

namespace studio {
namespace {

constexpr int kCropAttempts = 10;
// Uniform draws per view: crop attempts (scale, log-ratio), crop position (2), flip,
// jitter, 4 jitter factors, gray, blur, blur sigma, solarize.
constexpr int64_t kDraws = 2 * kCropAttempts + 2 + 1 + 1 + 4 + 1 + 1 + 1 + 1;

float lerp(double lo, double hi, float u) { return static_cast<float>(lo + (hi - lo) * u); }

// Table columns as [N,1,1,1] on the images' device, for broadcasting.
torch::Tensor column(const torch::Tensor& table, int64_t c, const torch::Tensor& like) {
  return table.select(1, c).to(like.device(), like.scalar_type()).view({-1, 1, 1, 1});
}

}  // namespace

at::Generator makeStepGenerator(int64_t seed, int64_t step, int64_t stream) {
  // SplitMix64 of the three numbers: neighbouring steps get unrelated streams.
  uint64_t z = static_cast<uint64_t>(seed) * 0x9E3779B97F4A7C15ULL ^ static_cast<uint64_t>(step) * 0xBF58476D1CE4E5B9ULL ^
               static_cast<uint64_t>(stream) * 0x94D049BB133111EBULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return at::make_generator<at::CPUGeneratorImpl>(z);
}

Augmenter::Augmenter(AugmentConfig config, int64_t channels, int64_t in_height, int64_t in_width)
    : config_(std::move(config)), channels_(channels), in_height_(in_height), in_width_(in_width) {
  out_size_ = config_.out_size > 0 ? config_.out_size : std::max(in_height, in_width);
  blur_kernel_ = config_.blur_kernel > 0 ? config_.blur_kernel : (std::max<int64_t>(3, out_size_ / 10) | 1);
  for (int64_t c = 0; c < channels; ++c) {
    const size_t i = std::min<size_t>(c, config_.mean.empty() ? 0 : config_.mean.size() - 1);
    mean_.push_back(config_.mean.empty() ? 0.5f : static_cast<float>(config_.mean[i]));
    std_.push_back(config_.std.empty() ? 0.25f : static_cast<float>(config_.std[i]));
  }
}

int64_t localViewSide(const AugmentConfig& config, int64_t global_side) {
  if (config.local_size > 0) return config.local_size;
  return std::max<int64_t>(kMinLocalViewSide, (global_side * 3 + 3) / 7);  // rounded: 28 -> 12, 32 -> 14
}

AugmentConfig localViewConfig(const AugmentConfig& config, int64_t global_side) {
  AugmentConfig c = config;
  c.out_size = localViewSide(config, global_side);
  c.crop = true;  // a local view is a crop by definition
  c.crop_scale_min = config.local_scale_min;
  c.crop_scale_max = config.local_scale_max;
  c.blur_kernel = 0;  // the global views' kernel may be wider than a local view
  return c;
}

AugmentParams Augmenter::sample(int64_t n, at::Generator& gen) const {
  const auto& c = config_;
  const auto u = torch::rand({n, kDraws}, gen, torch::kFloat32).contiguous();
  const float* ud = u.data_ptr<float>();
  AugmentParams p;
  p.table = torch::zeros({n, kAugmentColumns}, torch::kFloat32);
  float* t = p.table.data_ptr<float>();
  const double H = static_cast<double>(in_height_), W = static_cast<double>(in_width_);
  const double log_rmin = std::log(c.crop_ratio_min), log_rmax = std::log(c.crop_ratio_max);
  const bool color = channels_ == 3;
  for (int64_t i = 0; i < n; ++i) {
    const float* r = ud + i * kDraws;
    float* row = t + i * kAugmentColumns;
    // Random resized crop as torchvision samples it: area share and log-uniform aspect
    // ratio, up to ten tries for a box that fits, else the central box.
    double cw = W, ch = H, cx = 0, cy = 0;
    if (c.crop) {
      bool found = false;
      for (int a = 0; a < kCropAttempts && !found; ++a) {
        const double area = H * W * lerp(c.crop_scale_min, c.crop_scale_max, r[2 * a]);
        const double ratio = std::exp(lerp(log_rmin, log_rmax, r[2 * a + 1]));
        const double w = std::round(std::sqrt(area * ratio)), h = std::round(std::sqrt(area / ratio));
        if (w > 0 && h > 0 && w <= W && h <= H) {
          cw = w;
          ch = h;
          found = true;
        }
      }
      if (!found) {
        const double in_ratio = W / H;
        if (in_ratio < c.crop_ratio_min) {
          cw = W;
          ch = std::round(W / c.crop_ratio_min);
        } else if (in_ratio > c.crop_ratio_max) {
          ch = H;
          cw = std::round(H * c.crop_ratio_max);
        }
        cx = (W - cw) / 2;
        cy = (H - ch) / 2;
      } else {
        cx = std::floor(r[2 * kCropAttempts] * (W - cw + 1));
        cy = std::floor(r[2 * kCropAttempts + 1] * (H - ch + 1));
        cx = std::min(cx, W - cw);
        cy = std::min(cy, H - ch);
      }
    }
    const float* q = r + 2 * kCropAttempts + 2;
    row[kCropX0] = static_cast<float>(cx / W);
    row[kCropY0] = static_cast<float>(cy / H);
    row[kCropW] = static_cast<float>(cw / W);
    row[kCropH] = static_cast<float>(ch / H);
    row[kFlip] = q[0] < c.flip_p ? 1.f : 0.f;
    const bool jitter = q[1] < c.jitter_p;
    row[kJitter] = jitter ? 1.f : 0.f;
    row[kBrightness] = jitter ? lerp(std::max(0.0, 1 - c.brightness), 1 + c.brightness, q[2]) : 1.f;
    row[kContrast] = jitter ? lerp(std::max(0.0, 1 - c.contrast), 1 + c.contrast, q[3]) : 1.f;
    row[kSaturation] = jitter && color ? lerp(std::max(0.0, 1 - c.saturation), 1 + c.saturation, q[4]) : 1.f;
    row[kHue] = jitter && color ? lerp(-c.hue, c.hue, q[5]) : 0.f;
    row[kGray] = color && q[6] < c.grayscale_p ? 1.f : 0.f;
    row[kBlurSigma] = q[7] < c.blur_p ? lerp(c.blur_sigma_min, c.blur_sigma_max, q[8]) : 0.f;
    row[kSolarize] = q[9] < c.solarize_p ? 1.f : 0.f;
  }
  return p;
}

torch::Tensor cropFlipResample(const torch::Tensor& x, const torch::Tensor& table, int64_t out_size) {
  const int64_t n = x.size(0);
  // Affine map from output to input in normalised [-1, 1] coordinates (align_corners
  // false: pixel centres), mirrored in x for flipped views.
  const auto tb = table.to(torch::kFloat32);
  const auto x0 = tb.select(1, kCropX0), y0 = tb.select(1, kCropY0);
  const auto w = tb.select(1, kCropW), h = tb.select(1, kCropH);
  const auto sign = 1 - 2 * tb.select(1, kFlip);
  auto theta = torch::zeros({n, 2, 3}, torch::kFloat32);
  theta.select(1, 0).select(1, 0).copy_(w * sign);
  theta.select(1, 0).select(1, 2).copy_(2 * x0 + w - 1);
  theta.select(1, 1).select(1, 1).copy_(h);
  theta.select(1, 1).select(1, 2).copy_(2 * y0 + h - 1);
  theta = theta.to(x.device(), x.scalar_type());
  const auto grid = F::affine_grid(theta, {n, x.size(1), out_size, out_size}, /*align_corners=*/false);
  return F::grid_sample(x, grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
}

torch::Tensor rgbToGray(const torch::Tensor& x) {
  return (0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1);
}

namespace {

torch::Tensor shiftHue(const torch::Tensor& x, const torch::Tensor& shift) {
  const auto r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);
  const auto maxc = std::get<0>(x.max(1)), minc = std::get<0>(x.min(1));
  const auto delta = maxc - minc;
  const auto safe_delta = torch::where(delta > 0, delta, torch::ones_like(delta));
  const auto sat = torch::where(maxc > 0, delta / torch::where(maxc > 0, maxc, torch::ones_like(maxc)), torch::zeros_like(maxc));
  auto hue = torch::where(maxc == r, (g - b) / safe_delta,
                          torch::where(maxc == g, 2.0 + (b - r) / safe_delta, 4.0 + (r - g) / safe_delta));
  hue = torch::where(delta > 0, hue / 6.0, torch::zeros_like(hue));
  hue = torch::remainder(hue + shift.view({-1, 1, 1}), 1.0);
  // HSV -> RGB: channel n is V - V*S*clamp(min(k, 4-k), 0, 1), k = (n + 6H) mod 6.
  std::vector<torch::Tensor> out;
  for (double n : {5.0, 3.0, 1.0}) {
    const auto k = torch::remainder(n + hue * 6.0, 6.0);
    out.push_back(maxc - maxc * sat * torch::clamp(torch::minimum(k, 4.0 - k), 0.0, 1.0));
  }
  return torch::stack(out, 1);
}

}  // namespace

torch::Tensor colorJitter(const torch::Tensor& x_in, const torch::Tensor& table) {
  auto x = x_in;
  x = (x * column(table, kBrightness, x)).clamp(0, 1);
  const bool color = x.size(1) == 3;
  const auto gray = color ? rgbToGray(x) : x;
  const auto mean = gray.mean({1, 2, 3}, /*keepdim=*/true);
  const auto c = column(table, kContrast, x);
  x = ((x - mean) * c + mean).clamp(0, 1);
  if (color) {
    const auto g = rgbToGray(x);
    x = ((x - g) * column(table, kSaturation, x) + g).clamp(0, 1);
    const auto hue = table.select(1, kHue);
    if (hue.abs().max().item<float>() > 0) {
      x = shiftHue(x, hue.to(x.device(), x.scalar_type()));
    }
  }
  return x;
}

torch::Tensor gaussianBlur(const torch::Tensor& x, const torch::Tensor& sigmas, int64_t kernel) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t radius = kernel / 2;
  // One normalised 1-D kernel per view (a delta where sigma is 0), applied separably as a
  // grouped convolution over all N*C planes at once.
  const auto s = sigmas.to(x.device(), x.scalar_type()).view({-1, 1});
  const auto offsets = torch::arange(-radius, radius + 1, x.options()).view({1, -1});
  auto weights = torch::exp(-offsets.pow(2) / (2 * s.clamp_min(1e-6).pow(2)));
  const auto delta = (offsets == 0).to(x.scalar_type()).expand({n, kernel});
  weights = torch::where(s > 0, weights, delta);
  weights = weights / weights.sum(1, true);
  const auto per_plane = weights.repeat_interleave(c, 0);  // [N*C, K]
  auto planes = x.reshape({1, n * c, h, w});
  // Reflect padding as torchvision does; replicate where the image is narrower than the radius.
  auto pad = [](const torch::Tensor& t, std::vector<int64_t> sides, bool reflect) {
    auto options = F::PadFuncOptions(std::move(sides));
    if (reflect)
      options.mode(torch::kReflect);
    else
      options.mode(torch::kReplicate);
    return F::pad(t, options);
  };
  planes = pad(planes, {radius, radius, 0, 0}, radius < w);
  planes = F::conv2d(planes, per_plane.view({n * c, 1, 1, kernel}), F::Conv2dFuncOptions().groups(n * c));
  planes = pad(planes, {0, 0, radius, radius}, radius < h);
  planes = F::conv2d(planes, per_plane.view({n * c, 1, kernel, 1}), F::Conv2dFuncOptions().groups(n * c));
  return planes.view({n, c, h, w});
}

torch::Tensor Augmenter::applyUnnormalized(const torch::Tensor& images, const AugmentParams& params) const {
  TORCH_CHECK(images.dim() == 4 && images.size(0) == params.size(), "augment: images and parameter table disagree");
  const auto& table = params.table;
  auto x = images.to(torch::kFloat32).div_(255.0);
  x = cropFlipResample(x, table, out_size_);
  x = colorJitter(x, table);
  if (x.size(1) == 3) {
    const auto g = column(table, kGray, x);
    if (table.select(1, kGray).max().item<float>() > 0) x = x * (1 - g) + rgbToGray(x) * g;
  }
  const auto sigmas = table.select(1, kBlurSigma);
  // The blur's weights sum to one only up to rounding: keep intensities in [0, 1].
  if (sigmas.max().item<float>() > 0) x = gaussianBlur(x, sigmas, blur_kernel_).clamp_(0, 1);
  if (table.select(1, kSolarize).max().item<float>() > 0) {
    const auto sol = column(table, kSolarize, x) > 0.5;
    x = torch::where(sol & (x >= config_.solarize_threshold), 1 - x, x);
  }
  return x;
}

torch::Tensor Augmenter::normalize(const torch::Tensor& x) const {
  const auto opts = torch::TensorOptions().dtype(x.scalar_type()).device(x.device());
  const auto mean = torch::tensor(mean_, torch::kFloat32).to(opts).view({1, -1, 1, 1});
  const auto std = torch::tensor(std_, torch::kFloat32).to(opts).view({1, -1, 1, 1});
  return (x - mean) / std;
}

torch::Tensor Augmenter::apply(const torch::Tensor& images, const AugmentParams& params) const {
  return normalize(applyUnnormalized(images, params));
}

augmath::Pipeline Augmenter::pipeline(const torch::Tensor& table, bool normalize, bool channels_last) const {
  TORCH_CHECK(table.dim() == 2 && table.size(1) == kAugmentColumns, "augment: the parameter table must be [N, ",
              int64_t(kAugmentColumns), "]");
  TORCH_CHECK(channels_ >= 1 && channels_ <= augmath::kMaxChannels, "augment: the fused appliers take 1 to ",
              augmath::kMaxChannels, " channels, not ", channels_);
  const auto t = table.to(torch::kCPU, torch::kFloat32);
  augmath::Pipeline p;
  p.channels = static_cast<int>(channels_);
  p.in_height = static_cast<int>(in_height_);
  p.in_width = static_cast<int>(in_width_);
  p.out_size = static_cast<int>(out_size_);
  p.blur_kernel = static_cast<int>(blur_kernel_);
  p.solarize_threshold = static_cast<float>(config_.solarize_threshold);
  for (int64_t c = 0; c < channels_; ++c) {
    p.mean[c] = mean_[static_cast<size_t>(c)];
    p.std[c] = std_[static_cast<size_t>(c)];
  }
  const bool rows = t.size(0) > 0;
  p.hue = rows && channels_ == 3 && t.select(1, kHue).abs().max().item<float>() > 0;
  p.blur = rows && t.select(1, kBlurSigma).max().item<float>() > 0;
  p.solarize = rows && t.select(1, kSolarize).max().item<float>() > 0;
  p.normalize = normalize;
  p.channels_last = channels_last;
  return p;
}

torch::Tensor Augmenter::blurWeights(const torch::Tensor& table) const {
  const auto sigmas = table.select(1, kBlurSigma).to(torch::kCPU, torch::kFloat32).contiguous();
  auto weights = torch::empty({sigmas.size(0), blur_kernel_}, torch::kFloat32);
  const float* s = sigmas.data_ptr<float>();
  float* w = weights.data_ptr<float>();
  for (int64_t i = 0; i < sigmas.size(0); ++i) augmath::blurWeights(s[i], static_cast<int>(blur_kernel_), w + i * blur_kernel_);
  return weights;
}

torch::Tensor Augmenter::prepare(const torch::Tensor& images) const {
  auto x = images.to(torch::kFloat32).div_(255.0);
  if (x.size(2) != out_size_ || x.size(3) != out_size_)
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{out_size_, out_size_})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  return normalize(x);
}

}  // namespace studio
