#pragma once
// The experiment: everything that defines a run, as data. Read from and written to JSON
// (the file the GUI saves, the CLI runs, and the run folder keeps as config.json).
// Reading validates every key: unknown keys and out-of-range values are refused with a
// message naming the key, the value and what is allowed.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/enum_words.h"
#include "core/base/file_io.h"  // writeFileAtomically, readTextFile (declared there, used with configs)

namespace studio {

using Json = nlohmann::json;

// The closed choices, with their words in experiment files (core/base/enum_words.h). The
// schema (config_schema.h) offers the words in this order.
enum class DatasetKind { FashionMnist, Mnist, Cifar10, Cifar100, Packed };
enum class Backbone { ConvNet, ResNet18, ResNet34, ResNet50 };
enum class ResNetStem { Auto, Cifar, ImageNet };
enum class OptimizerKind { Sgd, AdamW, Lars };
enum class AugmentEngine { Auto, Fused, Torch };
enum class Precision { Auto, Fp32, Bf16 };
enum class AutoSwitch { Auto, On, Off };  // auto = the engine decides from the device

template <>
struct EnumWords<DatasetKind> {
  static constexpr std::pair<DatasetKind, const char*> table[] = {{DatasetKind::FashionMnist, "fashion-mnist"},
                                                                  {DatasetKind::Mnist, "mnist"},
                                                                  {DatasetKind::Cifar10, "cifar10"},
                                                                  {DatasetKind::Cifar100, "cifar100"},
                                                                  {DatasetKind::Packed, "packed"}};
};
template <>
struct EnumWords<Backbone> {
  static constexpr std::pair<Backbone, const char*> table[] = {{Backbone::ConvNet, "convnet"},
                                                               {Backbone::ResNet18, "resnet18"},
                                                               {Backbone::ResNet34, "resnet34"},
                                                               {Backbone::ResNet50, "resnet50"}};
};
template <>
struct EnumWords<ResNetStem> {
  static constexpr std::pair<ResNetStem, const char*> table[] = {
      {ResNetStem::Auto, "auto"}, {ResNetStem::Cifar, "cifar"}, {ResNetStem::ImageNet, "imagenet"}};
};
template <>
struct EnumWords<OptimizerKind> {
  static constexpr std::pair<OptimizerKind, const char*> table[] = {
      {OptimizerKind::Sgd, "sgd"}, {OptimizerKind::AdamW, "adamw"}, {OptimizerKind::Lars, "lars"}};
};
template <>
struct EnumWords<AugmentEngine> {
  static constexpr std::pair<AugmentEngine, const char*> table[] = {
      {AugmentEngine::Auto, "auto"}, {AugmentEngine::Fused, "fused"}, {AugmentEngine::Torch, "torch"}};
};
template <>
struct EnumWords<Precision> {
  static constexpr std::pair<Precision, const char*> table[] = {
      {Precision::Auto, "auto"}, {Precision::Fp32, "fp32"}, {Precision::Bf16, "bf16"}};
};
template <>
struct EnumWords<AutoSwitch> {
  static constexpr std::pair<AutoSwitch, const char*> table[] = {
      {AutoSwitch::Auto, "auto"}, {AutoSwitch::On, "on"}, {AutoSwitch::Off, "off"}};
};

struct DatasetConfig {
  DatasetKind kind = DatasetKind::FashionMnist;
  std::string path;                    // folder or file; empty = the built-in location
  int64_t train_limit = 0;             // use only the first N training images (0 = all)
  double holdout_fraction = 0.1;       // packed sets: the share held out for evaluation
};

// Random augmentation of one view. Applied in a fixed order (crop+flip, colour jitter,
// grayscale, blur, solarize, normalise) so that the CUDA kernels can fuse the passes.
// The smallest side of a local view the config accepts: the encoders halve a view's side
// twice or more before pooling it.
constexpr int64_t kMinLocalViewSide = 8;

struct AugmentConfig {
  int64_t out_size = 0;  // output side; 0 = the dataset's image size
  bool crop = true;
  double crop_scale_min = 0.2, crop_scale_max = 1.0;
  double crop_ratio_min = 3.0 / 4.0, crop_ratio_max = 4.0 / 3.0;
  double flip_p = 0.5;
  double jitter_p = 0.8;
  double brightness = 0.4, contrast = 0.4, saturation = 0.4, hue = 0.1;
  double grayscale_p = 0.2;
  double blur_p = 0.0;
  double blur_sigma_min = 0.1, blur_sigma_max = 2.0;
  int64_t blur_kernel = 0;  // odd kernel side; 0 = about a tenth of the image side
  double solarize_p = 0.0;
  double solarize_threshold = 0.5;
  // Multi-crop (Caron et al. 2020, SwAV and DINO): small local views of each image beside the
  // two global ones, drawn by the same pipeline with their own crop scales and side. Only the
  // methods that compare views other than one pair use them (core/methods says which).
  int64_t local_crops = 0;  // local views per image; 0 = the two global views only
  int64_t local_size = 0;   // side of a local view; 0 = 3/7 of the global side (DINO: 96 of 224)
  double local_scale_min = 0.05, local_scale_max = 0.4;
  std::vector<double> mean;  // per channel; empty = measured on the training set
  std::vector<double> std;
};

struct ModelConfig {
  Backbone backbone = Backbone::ConvNet;
  ResNetStem stem = ResNetStem::Auto;  // ResNets: auto = cifar below 64 px
  int64_t width = 32;                // convnet base width
  std::vector<int64_t> head_dims = {512, 128};  // hidden widths..., output width
  // Start the encoder from these weights instead of random ones: a run folder (its last
  // checkpoint), a studio checkpoint (.pt) or a .safetensors file with torchvision/timm
  // ResNet names (core/exchange/weight_import.h). Empty = random initialisation.
  std::string init_from;
  bool init_strict = true;  // refuse missing, unexpected or mis-shaped tensors; false loads what fits
};

struct MethodConfig {
  std::string name = "simclr";  // a method core/methods registers (contrastive-cli keys method lists them)
  // Each method's own settings, by method and key: "method": {"byol": {"momentum": 0.99}} in
  // the file, method.byol.momentum for --set. core/methods declares every method's keys
  // (range, default, help) and checks them; a key left out takes the method's default. The
  // blocks of methods other than the selected one are kept, so switching back finds them.
  std::map<std::string, std::map<std::string, double>> settings;
};

struct OptimConfig {
  OptimizerKind name = OptimizerKind::AdamW;
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double momentum = 0.9;
  double warmup_epochs = 1.0;
  double min_lr_ratio = 0.0;   // cosine decays to lr * min_lr_ratio
  double lars_eta = 0.001;
  double backbone_lr_mult = 1.0;  // the encoder's learning rate = lr * this (the head keeps lr)
  int64_t freeze_stages = 0;      // the first N stages of the encoder (stem, layer1, ...) stay fixed
};

struct TrainConfig {
  int64_t epochs = 10;
  int64_t batch_size = 256;
  int64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:N
  int64_t threads = 0;           // CPU threads; 0 = all cores
  int64_t checkpoint_every_steps = 200;
  int64_t max_steps = 0;         // stop after this many steps (0 = run all epochs)
};

struct MonitorConfig {
  double every_epochs = 1.0;  // kNN monitor period; 0 = only at the end
  int64_t k = 200;
  double temperature = 0.1;
  int64_t bank_size = 10000;   // labeled training images in the kNN bank (0 = all)
  int64_t query_size = 10000;  // held-out images classified (0 = all)
  // Images whose embeddings are published at each evaluation for the live map (t-SNE in
  // the studio): the first map_size held-out images, else a fixed sample of the training
  // split. 0 = no map.
  int64_t map_size = 2000;
};

// How the engine computes: settings that change speed and memory, not what is learned
// (beyond floating-point rounding: bf16 autocast is the one with visible rounding).
struct EngineConfig {
  AugmentEngine augment = AugmentEngine::Auto;  // auto = fused (CUDA kernels / CPU threads); torch = the reference ops
  Precision precision = Precision::Auto;        // auto = bf16 autocast on CUDA devices that have it
  AutoSwitch channels_last = AutoSwitch::Auto;  // NHWC activations and weights (auto: on CUDA)
  bool tf32 = true;                    // CUDA: TF32 tensor cores for float32 matmuls and convolutions
  bool cudnn_benchmark = true;         // CUDA: let cuDNN time its algorithms for each shape
  bool cuda_graph = false;             // CUDA: replay the forward+backward as one captured graph
  AutoSwitch resident_data = AutoSwitch::Auto;  // the uint8 images on the GPU (auto: when they fit)
  int64_t prefetch = 1;                // batches prepared ahead on a background thread (0 = none)
  bool host_memory_cache = true;       // keep freed CPU tensor memory for reuse during the run
};

struct ExperimentConfig {
  std::string name = "experiment";
  DatasetConfig dataset;
  AugmentConfig augment;
  ModelConfig model;
  MethodConfig method;
  OptimConfig optim;
  TrainConfig train;
  MonitorConfig monitor;
  EngineConfig engine;

  // Both walk the schema (config_schema.h), the one declaration of every key. fromJson throws
  // studio::Error(BadInput) naming the key: "config: train.batch_size = 1 is out of range
  // [2, 65536]". Missing keys take their defaults (the initialisers above).
  static ExperimentConfig fromJson(const Json& json);
  Json toJson() const;
};

ExperimentConfig loadExperimentConfig(const std::string& path);
void saveExperimentConfig(const ExperimentConfig& config, const std::string& path);

// Applies "a.b.c=value" to a JSON document. The value is typed by the key's schema entry:
// text and choice keys take it as written (name=2024 is a name); other keys parse it as JSON
// (numbers, true/false, arrays), and a value that does not parse stays a string for fromJson
// to refuse by name. Throws BadInput on bad syntax.
void applyConfigOverride(Json& json, const std::string& assignment);

// Whether spec names a device the way train.device may: auto | cpu | cuda | cuda:N. Only the
// syntax: core/device/device.h resolves it against what this machine has.
bool isDeviceSpec(const std::string& spec);

}  // namespace studio
