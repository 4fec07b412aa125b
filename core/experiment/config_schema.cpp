#include "core/experiment/config_schema.h"

#include <cstdint>
#include <stdexcept>

namespace studio {

const std::vector<NumericKey>& numericKeys() {
  static const std::vector<NumericKey> keys = {
      {"dataset.train_limit", true, 0, double(int64_t(1) << 40), "use only the first N training images (0 = all)"},
      {"dataset.holdout_fraction", false, 0.0, 0.9, "share of a packed dataset held out for evaluation"},
      {"augment.out_size", true, 0, 1024, "side of the views in pixels (0 = the dataset's image size)"},
      {"augment.crop_scale_min", false, 0.01, 1.0, "smallest share of the image a random crop keeps"},
      {"augment.crop_scale_max", false, 0.01, 1.0, "largest share of the image a random crop keeps"},
      {"augment.crop_ratio_min", false, 0.1, 10.0, "smallest aspect ratio of a crop"},
      {"augment.crop_ratio_max", false, 0.1, 10.0, "largest aspect ratio of a crop"},
      {"augment.flip_p", false, 0.0, 1.0, "probability of a horizontal flip"},
      {"augment.jitter_p", false, 0.0, 1.0, "probability of colour jitter"},
      {"augment.brightness", false, 0.0, 1.0, "brightness jitter strength"},
      {"augment.contrast", false, 0.0, 1.0, "contrast jitter strength"},
      {"augment.saturation", false, 0.0, 1.0, "saturation jitter strength"},
      {"augment.hue", false, 0.0, 0.5, "hue jitter strength"},
      {"augment.grayscale_p", false, 0.0, 1.0, "probability of turning a view grey"},
      {"augment.blur_p", false, 0.0, 1.0, "probability of a Gaussian blur"},
      {"augment.blur_sigma_min", false, 0.01, 10.0, "smallest blur sigma in pixels"},
      {"augment.blur_sigma_max", false, 0.01, 10.0, "largest blur sigma in pixels"},
      {"augment.blur_kernel", true, 0, 63, "odd blur kernel side (0 = about a tenth of the image side)"},
      {"augment.solarize_p", false, 0.0, 1.0, "probability of solarisation"},
      {"augment.solarize_threshold", false, 0.0, 1.0, "solarisation threshold"},
      {"model.width", true, 4, 512, "ConvNet width (channels of the first layer)"},
      {"method.temperature", false, 0.01, 10.0, "contrastive softmax temperature"},
      {"optim.lr", false, 1e-7, 100.0, "peak learning rate after warm-up"},
      {"optim.weight_decay", false, 0.0, 1.0, "weight decay"},
      {"optim.momentum", false, 0.0, 0.999, "SGD and LARS momentum"},
      {"optim.warmup_epochs", false, 0.0, 1000.0, "epochs of linear learning-rate warm-up"},
      {"optim.min_lr_ratio", false, 0.0, 1.0, "final learning rate as a share of the peak"},
      {"optim.lars_eta", false, 1e-6, 1.0, "LARS trust coefficient"},
      {"optim.backbone_lr_mult", false, 0.0, 100.0, "backbone learning rate as a multiple of the head's (0 = frozen)"},
      {"optim.freeze_stages", true, 0, 5, "the first N stages of the encoder (stem, layer1, ...) stay fixed"},
      {"train.epochs", true, 1, 100000, "passes over the training images"},
      {"train.batch_size", true, 2, 65536, "images per step"},
      {"train.seed", true, 0, double(int64_t(1) << 53), "seed of initialisation, data order and augmentation"},
      {"train.threads", true, 0, 1024, "CPU threads (0 = all cores)"},
      {"train.checkpoint_every_steps", true, 1, double(int64_t(1) << 40), "steps between checkpoints"},
      {"train.max_steps", true, 0, double(int64_t(1) << 40), "stop after this many steps (0 = no limit)"},
      {"monitor.every_epochs", false, 0.0, 100000.0, "epochs between kNN evaluations (0 = only at the end)"},
      {"monitor.k", true, 1, 10000, "neighbours of the kNN classifier"},
      {"monitor.temperature", false, 0.001, 10.0, "temperature of the kNN vote"},
      {"monitor.bank_size", true, 0, double(int64_t(1) << 40), "training images in the kNN bank (0 = all)"},
      {"monitor.query_size", true, 0, double(int64_t(1) << 40), "held-out images queried (0 = all)"},
      {"monitor.map_size", true, 0, double(int64_t(1) << 40), "images laid out on the embedding map (0 = no map)"},
      {"engine.prefetch", true, 0, 2, "batches prepared ahead on a background thread"},
  };
  return keys;
}

const std::vector<ChoiceKey>& choiceKeys() {
  static const std::vector<ChoiceKey> keys = {
      {"dataset.kind", {"fashion-mnist", "mnist", "cifar10", "cifar100", "packed"},
       "the images: a built-in dataset, or a packed .csds file of your own (dataset.path)"},
      {"model.backbone", {"convnet", "resnet18", "resnet34", "resnet50"}, "the encoder's architecture"},
      {"model.stem", {"auto", "cifar", "imagenet"},
       "ResNet's first layers: cifar (3x3, no pooling) or imagenet (7x7 and pooling); auto: cifar below 64 px"},
      {"method.name", {"simclr"}, "the self-supervised method"},
      {"optim.name", {"sgd", "adamw", "lars"}, "the optimizer"},
      {"engine.augment", {"auto", "fused", "torch"},
       "fused: one pass per view (CUDA kernels or CPU threads); torch: the reference ops"},
      {"engine.precision", {"auto", "fp32", "bf16"}, "bf16 autocast on CUDA devices that have it (auto), or fp32"},
      {"engine.channels_last", {"auto", "on", "off"}, "NHWC activations and weights (auto: on CUDA)"},
      {"engine.resident_data", {"auto", "on", "off"}, "keep the uint8 images on the GPU (auto: when they fit)"},
  };
  return keys;
}

bool ChoiceKey::allows(const std::string& value) const {
  for (const auto& v : values)
    if (v == value) return true;
  return false;
}

const ChoiceKey& choiceKey(const std::string& path) {
  for (const auto& k : choiceKeys())
    if (k.path == path) return k;
  throw std::logic_error("config schema: no choice key '" + path + "' is declared (core/experiment/config_schema.cpp)");
}

const NumericKey& numericKey(const std::string& path) {
  for (const auto& k : numericKeys())
    if (k.path == path) return k;
  throw std::logic_error("config schema: no numeric key '" + path + "' is declared (core/experiment/config_schema.cpp)");
}

}  // namespace studio
