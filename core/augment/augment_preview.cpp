#include "core/augment/augment_preview.h"

#include <torch/torch.h>

#include <memory>

#include "core/augment/augment.h"
#include "core/data/dataset.h"
#include "core/base/error.h"

namespace studio {

namespace {

torch::Tensor tableTensor(const ImageTable& t) {
  // A read-only view; from_blob does not copy and the caller keeps `t` alive.
  return torch::from_blob(const_cast<uint8_t*>(t.pixels.get()), {t.count, t.channels, t.height, t.width},
                          torch::kUInt8);
}

ImageTable toUint8Table(const torch::Tensor& unit_images, const std::vector<int64_t>& labels,
                        const std::vector<std::string>& class_names) {
  Dataset d;
  d.images = unit_images.mul(255.0).round_().clamp_(0, 255).to(torch::kUInt8).contiguous();
  d.labels = torch::tensor(labels, torch::kInt64);
  d.class_names = class_names;
  return toImageTable(d);
}

}  // namespace

AugmentPreview renderAugmentPreview(const ImageTable& source, const std::vector<int64_t>& indices,
                                    const AugmentConfig& config, int64_t seed, int64_t roll) {
  if (source.empty()) throwBadInput("augmentation preview: no images loaded");
  std::vector<int64_t> labels;
  for (const int64_t i : indices) {
    if (i < 0 || i >= source.count)
      throwBadInput("augmentation preview: image index " + std::to_string(i) + " is outside [0, " +
                    std::to_string(source.count) + ")");
    labels.push_back(source.label(i));
  }
  torch::NoGradGuard no_grad;
  const auto chosen =
      tableTensor(source).index_select(0, torch::tensor(indices, torch::kInt64)).contiguous();
  const auto n = static_cast<int64_t>(indices.size());
  Augmenter augmenter(config, source.channels, source.height, source.width);
  // The same draw order as a training step: one generator, the first view's table, the
  // second's, then the local views' (core/train/batch_source.h).
  auto gen = makeStepGenerator(seed, roll, /*stream=*/0);
  const auto p1 = augmenter.sample(n, gen);
  const auto p2 = augmenter.sample(n, gen);
  AugmentParams local;
  std::unique_ptr<Augmenter> local_augmenter;
  if (config.local_crops > 0) {
    local_augmenter = std::make_unique<Augmenter>(localViewConfig(config, augmenter.outSize()), source.channels,
                                                  source.height, source.width);
    local = local_augmenter->sample(n * config.local_crops, gen);
  }
  AugmentPreview preview;
  Dataset originals;
  originals.images = chosen;
  originals.labels = torch::tensor(labels, torch::kInt64);
  originals.class_names = source.class_names;
  preview.originals = toImageTable(originals);
  preview.view1 = toUint8Table(augmenter.applyUnnormalized(chosen, p1), labels, source.class_names);
  preview.view2 = toUint8Table(augmenter.applyUnnormalized(chosen, p2), labels, source.class_names);
  for (int64_t l = 0; l < config.local_crops; ++l) {
    AugmentParams block;
    block.table = local.table.slice(0, l * n, (l + 1) * n);
    preview.local_views.push_back(
        toUint8Table(local_augmenter->applyUnnormalized(chosen, block), labels, source.class_names));
  }
  return preview;
}

const std::vector<std::string>& augmentationIds() {
  static const std::vector<std::string> ids = {"crop", "flip", "jitter", "grayscale", "blur", "solarize"};
  return ids;
}

AugmentConfig isolateAugmentation(const AugmentConfig& config, const std::string& op) {
  const auto& ids = augmentationIds();
  if (std::find(ids.begin(), ids.end(), op) == ids.end())
    throwBadInput("augmentation \"" + op + "\" is unknown (expected crop, flip, jitter, grayscale, blur or solarize)");
  AugmentConfig c = config;
  c.crop = op == "crop";
  c.flip_p = op == "flip" ? 1.0 : 0.0;
  c.jitter_p = op == "jitter" ? 1.0 : 0.0;
  c.grayscale_p = op == "grayscale" ? 1.0 : 0.0;
  c.blur_p = op == "blur" ? 1.0 : 0.0;
  c.solarize_p = op == "solarize" ? 1.0 : 0.0;
  return c;
}

}  // namespace studio
