#include "core/experiment/config_schema.h"

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <type_traits>

#include "core/base/error.h"
#include "core/base/text_format.h"
#include "core/experiment/config.h"

namespace studio {
namespace {

using Json = nlohmann::json;

// Each declaration binds a key to its member through `ref`, a generic lambda returning the
// member of a (const or mutable) ExperimentConfig: one line says where the value lives, and
// the same lambda serves reading and writing.
template <typename Ref>
ConfigKey bound(ConfigKey key, Ref ref) {
  key.get = [ref](const ExperimentConfig& c) { return Json(ref(c)); };
  key.set = [ref](ExperimentConfig& c, const Json& v) {
    auto& member = ref(c);
    member = v.get<std::decay_t<decltype(member)>>();
  };
  return key;
}

template <typename Ref>
ConfigKey integer(const char* path, double lo, double hi, const char* help, Ref ref) {
  return bound({path, KeyType::Integer, lo, hi, 0, 0, {}, help}, ref);
}
template <typename Ref>
ConfigKey number(const char* path, double lo, double hi, const char* help, Ref ref) {
  return bound({path, KeyType::Number, lo, hi, 0, 0, {}, help}, ref);
}
template <typename Ref>
ConfigKey boolean(const char* path, const char* help, Ref ref) {
  return bound({path, KeyType::Boolean, 0, 0, 0, 0, {}, help}, ref);
}
template <typename Ref>
ConfigKey text(const char* path, const char* help, Ref ref) {
  return bound({path, KeyType::Text, 0, 0, 0, 0, {}, help}, ref);
}
template <typename Ref>
ConfigKey numberList(const char* path, double lo, double hi, size_t min_length, size_t max_length, const char* help,
                     Ref ref) {
  return bound({path, KeyType::NumberList, lo, hi, min_length, max_length, {}, help}, ref);
}
template <typename Ref>
ConfigKey integerList(const char* path, double lo, double hi, size_t min_length, size_t max_length, const char* help,
                      Ref ref) {
  return bound({path, KeyType::IntegerList, lo, hi, min_length, max_length, {}, help}, ref);
}
// A closed choice held as an enum: the words are the enum's (core/base/enum_words.h).
template <typename E, typename Ref>
ConfigKey choice(const char* path, const char* help, Ref ref) {
  ConfigKey key{path, KeyType::Choice, 0, 0, 0, 0, enumWords<E>(), help};
  key.get = [ref](const ExperimentConfig& c) { return Json(wordOf(ref(c))); };
  key.set = [ref](ExperimentConfig& c, const Json& v) { enumFromWord(v.get<std::string>(), ref(c)); };
  return key;
}

std::vector<ConfigKey> declareKeys() {
  return {
      text("name", "the experiment's name (the run folder is named after it)", [](auto& c) -> auto& { return c.name; }),
      choice<DatasetKind>("dataset.kind", "the images: a built-in dataset, or a packed .csds file of your own (dataset.path)",
                 [](auto& c) -> auto& { return c.dataset.kind; }),
      text("dataset.path", "the dataset's folder or file (empty = the built-in location)", [](auto& c) -> auto& { return c.dataset.path; }),
      integer("dataset.train_limit", 0, double(int64_t(1) << 40), "use only the first N training images (0 = all)",
              [](auto& c) -> auto& { return c.dataset.train_limit; }),
      number("dataset.holdout_fraction", 0.0, 0.9, "share of a packed dataset held out for evaluation",
              [](auto& c) -> auto& { return c.dataset.holdout_fraction; }),
      integer("augment.out_size", 0, 1024, "side of the views in pixels (0 = the dataset's image size)",
              [](auto& c) -> auto& { return c.augment.out_size; }),
      boolean("augment.crop", "random resized crop (off: the whole image, resized)", [](auto& c) -> auto& { return c.augment.crop; }),
      number("augment.crop_scale_min", 0.01, 1.0, "smallest share of the image a random crop keeps",
              [](auto& c) -> auto& { return c.augment.crop_scale_min; }),
      number("augment.crop_scale_max", 0.01, 1.0, "largest share of the image a random crop keeps",
              [](auto& c) -> auto& { return c.augment.crop_scale_max; }),
      number("augment.crop_ratio_min", 0.1, 10.0, "smallest aspect ratio of a crop",
              [](auto& c) -> auto& { return c.augment.crop_ratio_min; }),
      number("augment.crop_ratio_max", 0.1, 10.0, "largest aspect ratio of a crop",
              [](auto& c) -> auto& { return c.augment.crop_ratio_max; }),
      number("augment.flip_p", 0.0, 1.0, "probability of a horizontal flip",
              [](auto& c) -> auto& { return c.augment.flip_p; }),
      number("augment.jitter_p", 0.0, 1.0, "probability of colour jitter",
              [](auto& c) -> auto& { return c.augment.jitter_p; }),
      number("augment.brightness", 0.0, 1.0, "brightness jitter strength",
              [](auto& c) -> auto& { return c.augment.brightness; }),
      number("augment.contrast", 0.0, 1.0, "contrast jitter strength",
              [](auto& c) -> auto& { return c.augment.contrast; }),
      number("augment.saturation", 0.0, 1.0, "saturation jitter strength",
              [](auto& c) -> auto& { return c.augment.saturation; }),
      number("augment.hue", 0.0, 0.5, "hue jitter strength",
              [](auto& c) -> auto& { return c.augment.hue; }),
      number("augment.grayscale_p", 0.0, 1.0, "probability of turning a view grey",
              [](auto& c) -> auto& { return c.augment.grayscale_p; }),
      number("augment.blur_p", 0.0, 1.0, "probability of a Gaussian blur",
              [](auto& c) -> auto& { return c.augment.blur_p; }),
      number("augment.blur_sigma_min", 0.01, 10.0, "smallest blur sigma in pixels",
              [](auto& c) -> auto& { return c.augment.blur_sigma_min; }),
      number("augment.blur_sigma_max", 0.01, 10.0, "largest blur sigma in pixels",
              [](auto& c) -> auto& { return c.augment.blur_sigma_max; }),
      integer("augment.blur_kernel", 0, 63, "odd blur kernel side (0 = about a tenth of the image side)",
              [](auto& c) -> auto& { return c.augment.blur_kernel; }),
      number("augment.solarize_p", 0.0, 1.0, "probability of solarisation",
              [](auto& c) -> auto& { return c.augment.solarize_p; }),
      number("augment.solarize_threshold", 0.0, 1.0, "solarisation threshold",
              [](auto& c) -> auto& { return c.augment.solarize_threshold; }),
      integer("augment.local_crops", 0, 16, "small local views per image beside the two global ones (multi-crop; 0 = none)",
              [](auto& c) -> auto& { return c.augment.local_crops; }),
      integer("augment.local_size", 0, 1024, "side of a local view in pixels (0 = 3/7 of the global side)",
              [](auto& c) -> auto& { return c.augment.local_size; }),
      number("augment.local_scale_min", 0.01, 1.0, "smallest share of the image a local view keeps",
              [](auto& c) -> auto& { return c.augment.local_scale_min; }),
      number("augment.local_scale_max", 0.01, 1.0, "largest share of the image a local view keeps",
              [](auto& c) -> auto& { return c.augment.local_scale_max; }),
      numberList("augment.mean", 0.0, 1.0, 0, 4, "normalisation mean per channel (empty = measured on the training set)",
                 [](auto& c) -> auto& { return c.augment.mean; }),
      numberList("augment.std", 1e-4, 10.0, 0, 4, "normalisation standard deviation per channel (empty = measured)",
                 [](auto& c) -> auto& { return c.augment.std; }),
      choice<Backbone>("model.backbone", "the encoder's architecture",
                 [](auto& c) -> auto& { return c.model.backbone; }),
      choice<ResNetStem>("model.stem", "ResNet's first layers: cifar (3x3, no pooling) or imagenet (7x7 and pooling); auto: cifar below 64 px",
                 [](auto& c) -> auto& { return c.model.stem; }),
      integer("model.width", 4, 512, "ConvNet width (channels of the first layer)",
              [](auto& c) -> auto& { return c.model.width; }),
      integerList("model.head_dims", 2, 16384, 1, 4, "projection head widths: hidden..., output",
                 [](auto& c) -> auto& { return c.model.head_dims; }),
      text("model.init_from", "start the encoder from these weights: a run folder, a .pt checkpoint or a .safetensors file (empty = random)", [](auto& c) -> auto& { return c.model.init_from; }),
      boolean("model.init_strict", "refuse missing, unexpected or mis-shaped tensors (false: load what fits)", [](auto& c) -> auto& { return c.model.init_strict; }),
      text("method.name", "the self-supervised method (contrastive-cli keys method lists them and their settings)",
           [](auto& c) -> auto& { return c.method.name; }),
      choice<OptimizerKind>("optim.name", "the optimizer",
                 [](auto& c) -> auto& { return c.optim.name; }),
      number("optim.lr", 1e-7, 100.0, "peak learning rate after warm-up",
              [](auto& c) -> auto& { return c.optim.lr; }),
      number("optim.weight_decay", 0.0, 1.0, "weight decay",
              [](auto& c) -> auto& { return c.optim.weight_decay; }),
      number("optim.momentum", 0.0, 0.999, "SGD and LARS momentum",
              [](auto& c) -> auto& { return c.optim.momentum; }),
      number("optim.warmup_epochs", 0.0, 1000.0, "epochs of linear learning-rate warm-up",
              [](auto& c) -> auto& { return c.optim.warmup_epochs; }),
      number("optim.min_lr_ratio", 0.0, 1.0, "final learning rate as a share of the peak",
              [](auto& c) -> auto& { return c.optim.min_lr_ratio; }),
      number("optim.lars_eta", 1e-6, 1.0, "LARS trust coefficient",
              [](auto& c) -> auto& { return c.optim.lars_eta; }),
      number("optim.backbone_lr_mult", 0.0, 100.0, "backbone learning rate as a multiple of the head's (0 = frozen)",
              [](auto& c) -> auto& { return c.optim.backbone_lr_mult; }),
      integer("optim.freeze_stages", 0, 5, "the first N stages of the encoder (stem, layer1, ...) stay fixed",
              [](auto& c) -> auto& { return c.optim.freeze_stages; }),
      integer("train.epochs", 1, 100000, "passes over the training images",
              [](auto& c) -> auto& { return c.train.epochs; }),
      integer("train.batch_size", 2, 65536, "images per step",
              [](auto& c) -> auto& { return c.train.batch_size; }),
      integer("train.seed", 0, double(int64_t(1) << 53), "seed of initialisation, data order and augmentation",
              [](auto& c) -> auto& { return c.train.seed; }),
      text("train.device", "auto, cpu, cuda or cuda:N", [](auto& c) -> auto& { return c.train.device; }),
      integer("train.threads", 0, 1024, "CPU threads (0 = all cores)",
              [](auto& c) -> auto& { return c.train.threads; }),
      integer("train.checkpoint_every_steps", 1, double(int64_t(1) << 40), "steps between checkpoints",
              [](auto& c) -> auto& { return c.train.checkpoint_every_steps; }),
      integer("train.max_steps", 0, double(int64_t(1) << 40), "stop after this many steps (0 = no limit)",
              [](auto& c) -> auto& { return c.train.max_steps; }),
      number("monitor.every_epochs", 0.0, 100000.0, "epochs between kNN evaluations (0 = only at the end)",
              [](auto& c) -> auto& { return c.monitor.every_epochs; }),
      integer("monitor.k", 1, 10000, "neighbours of the kNN classifier",
              [](auto& c) -> auto& { return c.monitor.k; }),
      number("monitor.temperature", 0.001, 10.0, "temperature of the kNN vote",
              [](auto& c) -> auto& { return c.monitor.temperature; }),
      integer("monitor.bank_size", 0, double(int64_t(1) << 40), "training images in the kNN bank (0 = all)",
              [](auto& c) -> auto& { return c.monitor.bank_size; }),
      integer("monitor.query_size", 0, double(int64_t(1) << 40), "held-out images queried (0 = all)",
              [](auto& c) -> auto& { return c.monitor.query_size; }),
      integer("monitor.map_size", 0, double(int64_t(1) << 40), "images laid out on the embedding map (0 = no map)",
              [](auto& c) -> auto& { return c.monitor.map_size; }),
      choice<AugmentEngine>("engine.augment", "fused: one pass per view (CUDA kernels or CPU threads); torch: the reference ops",
                 [](auto& c) -> auto& { return c.engine.augment; }),
      choice<Precision>("engine.precision", "bf16 autocast on CUDA devices that have it (auto), or fp32",
                 [](auto& c) -> auto& { return c.engine.precision; }),
      choice<AutoSwitch>("engine.channels_last", "NHWC activations and weights (auto: on CUDA)",
                 [](auto& c) -> auto& { return c.engine.channels_last; }),
      boolean("engine.tf32", "CUDA: TF32 tensor cores for float32 matmuls and convolutions", [](auto& c) -> auto& { return c.engine.tf32; }),
      boolean("engine.cudnn_benchmark", "CUDA: let cuDNN time its algorithms for each shape", [](auto& c) -> auto& { return c.engine.cudnn_benchmark; }),
      boolean("engine.cuda_graph", "CUDA: replay the forward and backward as one captured graph", [](auto& c) -> auto& { return c.engine.cuda_graph; }),
      choice<AutoSwitch>("engine.resident_data", "keep the uint8 images on the GPU (auto: when they fit)",
                 [](auto& c) -> auto& { return c.engine.resident_data; }),
      integer("engine.prefetch", 0, 2, "batches prepared ahead on a background thread",
              [](auto& c) -> auto& { return c.engine.prefetch; }),
      boolean("engine.host_memory_cache", "keep freed CPU tensor memory for reuse during the run", [](auto& c) -> auto& { return c.engine.host_memory_cache; }),
  };
}

std::vector<ConfigKey> keysWhere(bool (*keep)(const ConfigKey&)) {
  std::vector<ConfigKey> out;
  for (const auto& k : configKeys())
    if (keep(k)) out.push_back(k);
  return out;
}

bool isIntegral(const Json& v) {
  return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
}

}  // namespace

const std::vector<ConfigKey>& configKeys() {
  static const std::vector<ConfigKey> keys = declareKeys();
  return keys;
}

const std::vector<ConfigKey>& numericKeys() {
  static const std::vector<ConfigKey> keys = keysWhere([](const ConfigKey& k) { return k.numeric(); });
  return keys;
}

const std::vector<ConfigKey>& choiceKeys() {
  static const std::vector<ConfigKey> keys = keysWhere([](const ConfigKey& k) { return k.type == KeyType::Choice; });
  return keys;
}

const ConfigKey* findConfigKey(const std::string& path) {
  for (const auto& k : configKeys())
    if (k.path == path) return &k;
  return nullptr;
}

const ConfigKey& configKey(const std::string& path) {
  if (const ConfigKey* k = findConfigKey(path)) return *k;
  throw std::logic_error("config schema: no key '" + path + "' is declared (core/experiment/config_schema.cpp)");
}

bool ConfigKey::allows(const std::string& word) const {
  for (const auto& v : values)
    if (v == word) return true;
  return false;
}

Json ConfigKey::defaultValue() const { return get(ExperimentConfig()); }

Json ConfigKey::checked(const Json& v) const {
  const std::string where = "config: " + path;
  switch (type) {
    case KeyType::Integer: {
      if (!isIntegral(v)) throwBadInput(where + " must be an integer, got " + v.dump());
      const auto x = v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(v.get<double>());
      const auto lo = static_cast<int64_t>(min), hi = static_cast<int64_t>(max);
      if (x < lo || x > hi)
        throwBadInput(where + " = " + std::to_string(x) + " is out of range [" + std::to_string(lo) + ", " +
                      std::to_string(hi) + "]");
      return Json(x);
    }
    case KeyType::Number: {
      if (!v.is_number()) throwBadInput(where + " must be a number, got " + v.dump());
      const double x = v.get<double>();
      if (!(x >= min && x <= max))
        throwBadInput(where + " = " + formatNumber(x) + " is out of range [" + formatNumber(min) + ", " +
                      formatNumber(max) + "]");
      return Json(x);
    }
    case KeyType::Boolean:
      if (!v.is_boolean()) throwBadInput(where + " must be true or false, got " + v.dump());
      return v;
    case KeyType::Text:
      if (!v.is_string()) throwBadInput(where + " must be a string, got " + v.dump());
      return v;
    case KeyType::Choice: {
      if (!v.is_string()) throwBadInput(where + " must be a string, got " + v.dump());
      if (allows(v.get<std::string>())) return v;
      std::string list;
      for (const auto& a : values) list += (list.empty() ? "" : ", ") + a;
      throwBadInput(where + " = \"" + v.get<std::string>() + "\" is not one of: " + list);
    }
    case KeyType::NumberList:
    case KeyType::IntegerList: {
      if (!v.is_array() || v.size() < min_length || v.size() > max_length)
        throwBadInput(where + " must be a list of " + std::to_string(min_length) + " to " + std::to_string(max_length) +
                      " numbers, got " + v.dump());
      Json out = Json::array();
      for (const auto& e : v) {
        if (!e.is_number() || e.get<double>() < min || e.get<double>() > max)
          throwBadInput(where + " entries must be numbers in [" + formatNumber(min) + ", " + formatNumber(max) +
                        "], got " + e.dump());
        if (type == KeyType::NumberList) {
          out.push_back(e.get<double>());
        } else {
          if (!isIntegral(e)) throwBadInput(where + " entries must be integers");
          out.push_back(static_cast<int64_t>(e.get<double>()));
        }
      }
      return out;
    }
  }
  throw std::logic_error("config schema: key '" + path + "' has no type");
}

}  // namespace studio
