#pragma once
// The self-supervised methods the engine knows, each declared once: its name, what it is for,
// its own experiment keys (method.<name>.<key>: range, default, help) and how it builds what it
// adds to the backbone. The studio's method list and fields, the CLI's `keys` and `--set`, the
// config check and the model card all read this registry. Adding a method is one file
// (core/methods/<method>.cpp with its MethodImpl and spec), one line in the registry, a test
// and a preset.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/experiment/config.h"
#include "core/model/method.h"

namespace studio {

// One numeric setting of a method (booleans are 0/1 integers).
struct MethodSetting {
  std::string key;    // e.g. "temperature": method.<name>.temperature in the experiment
  double value = 0;   // the default, from the paper or reference implementation, scaled to small runs
  double min = 0, max = 0;
  bool integer = false;
  std::string help;
};

// A method's settings with every default filled in: what its MethodImpl is built from.
class MethodValues {
 public:
  explicit MethodValues(std::map<std::string, double> values) : values_(std::move(values)) {}
  double operator()(const std::string& key) const;  // std::logic_error for an undeclared key
  int64_t integer(const std::string& key) const { return static_cast<int64_t>((*this)(key)); }
  const std::map<std::string, double>& all() const { return values_; }

 private:
  std::map<std::string, double> values_;
};

// What a method's factory builds from.
struct MethodBuild {
  const ModelConfig& model;  // model.head_dims is the projector every method uses
  MethodValues values;
  int64_t feature_dim = 0;   // the backbone's output width
  // A new backbone of the online one's architecture (randomly initialised): EMA targets.
  std::function<std::shared_ptr<BackboneImpl>()> make_backbone;
};

// How a method uses multi-crop's local views (augment.local_crops).
enum class MultiCrop {
  No,             // it compares exactly two views (MoCo's queue, Barlow Twins' and VICReg's statistics)
  AllPairs,       // its loss over every pair of views (SimCLR, DCL)
  GlobalToLocal,  // every view predicts each global view's target (BYOL, SimSiam, DINO)
};

struct MethodSpec {
  std::string name;     // method.name
  std::string title;    // what the studio lists ("BYOL")
  std::string summary;  // one sentence: what it does and when it fits
  // What usually stops this method's embeddings from collapsing, in the user's words: the
  // second half of the warning a run prints when they collapse (core/eval/embedding_health.h).
  std::string collapse_hint;
  MultiCrop multi_crop = MultiCrop::No;
  std::vector<MethodSetting> settings;
  std::function<std::shared_ptr<MethodImpl>(const MethodBuild&)> make;
};

// Every method, in the order the studio lists them.
const std::vector<MethodSpec>& methodSpecs();
// nullptr when no method has that name.
const MethodSpec* findMethodSpec(const std::string& name);

// Checks method.name and the settings of every method block the config holds; BadInput
// names the key, the value and what was expected.
void checkMethodConfig(const MethodConfig& method);
// The same, and that the method uses local views when the augmentation draws them.
void checkMethodConfig(const MethodConfig& method, const AugmentConfig& augment);
// The methods that use local views, by title ("SimCLR, DCL, ..."): what the studio and the
// config check name when local views are asked of a method that does not use them.
std::string multiCropMethodTitles();
// The selected method's settings with its defaults filled in (what a run saves and trains
// with), after checkMethodConfig.
MethodConfig resolvedMethodConfig(const MethodConfig& method);
MethodValues methodValues(const MethodConfig& method);

// The model a config trains: the backbone, and the selected method's projector, predictor,
// target and state (its target starting as a copy of the backbone). BadInput for a bad method.
ContrastiveModel makeContrastiveModel(const ModelConfig& model, const MethodConfig& method, int64_t in_channels,
                                      int64_t image_size);
// SimCLR with its defaults: for tests and tools that only need an encoder.
ContrastiveModel makeContrastiveModel(const ModelConfig& model, int64_t in_channels, int64_t image_size);

}  // namespace studio
