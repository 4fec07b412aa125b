#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

#include "core/base/error.h"
#include "core/base/text_format.h"
#include "core/methods/losses.h"
#include "core/methods/method_parts.h"

namespace studio {

const std::vector<MethodSpec>& methodSpecs() {
  // Contrastive methods first, then the ones without negatives, as solo-learn and lightly list them.
  static const std::vector<MethodSpec> specs = {simclrMethod(), dclMethod(),         dclwMethod(),
                                                mocoMethod(),   byolMethod(),        simsiamMethod(),
                                                barlowTwinsMethod(), vicregMethod(), dinoMethod()};
  return specs;
}

const MethodSpec* findMethodSpec(const std::string& name) {
  for (const auto& spec : methodSpecs())
    if (spec.name == name) return &spec;
  return nullptr;
}

double MethodValues::operator()(const std::string& key) const {
  const auto it = values_.find(key);
  if (it == values_.end()) throw std::logic_error("method setting '" + key + "' is not declared by the method");
  return it->second;
}

namespace {

std::string methodNames() {
  std::string names;
  for (const auto& spec : methodSpecs()) names += (names.empty() ? "" : ", ") + spec.name;
  return names;
}

}  // namespace

void checkMethodConfig(const MethodConfig& method) {
  if (!findMethodSpec(method.name))
    throwBadInput("config: method.name = \"" + method.name + "\" is not a method (expected one of: " + methodNames() + ")");
  for (const auto& [name, settings] : method.settings) {
    const MethodSpec* spec = findMethodSpec(name);
    if (!spec) throwBadInput("config: method." + name + " is not a method (expected one of: " + methodNames() + ")");
    for (const auto& [key, value] : settings) {
      const std::string path = "method." + name + "." + key;
      const MethodSetting* declared = nullptr;
      for (const auto& s : spec->settings)
        if (s.key == key) declared = &s;
      if (!declared) {
        std::string known;
        for (const auto& s : spec->settings) known += (known.empty() ? "" : ", ") + s.key;
        throwBadInput("config: " + path + " is not a setting of " + spec->title +
                      (known.empty() ? " (it has none)" : " (its settings: " + known + ")"));
      }
      const bool whole = !declared->integer || value == std::floor(value);
      if (!std::isfinite(value) || value < declared->min || value > declared->max || !whole)
        throwBadInput("config: " + path + " = " + formatNumber(value) + ": expected " +
                      (declared->integer ? "a whole number" : "a number") + " from " + formatNumber(declared->min) +
                      " to " + formatNumber(declared->max) + " (" + declared->help + ")");
    }
  }
}

std::string multiCropMethodTitles() {
  std::string titles;
  for (const auto& spec : methodSpecs())
    if (spec.multi_crop != MultiCrop::No) titles += (titles.empty() ? "" : ", ") + spec.title;
  return titles;
}

void checkMethodConfig(const MethodConfig& method, const AugmentConfig& augment) {
  checkMethodConfig(method);
  const MethodSpec& spec = *findMethodSpec(method.name);
  if (augment.local_crops > 0 && spec.multi_crop == MultiCrop::No)
    throwBadInput("config: augment.local_crops = " + std::to_string(augment.local_crops) + ": " + spec.title +
                  " compares two views only; set it to 0, or choose a method that uses local views (" +
                  multiCropMethodTitles() + ")");
}

const torch::Tensor& twoViewsOnly(const ViewBatch& views, const std::string& method) {
  if (views.local.defined())
    throw std::logic_error(method + " compares two views only, but local views reached it (the config check stops them)");
  return views.global;
}

MethodValues methodValues(const MethodConfig& method) {
  checkMethodConfig(method);
  const MethodSpec& spec = *findMethodSpec(method.name);
  std::map<std::string, double> values;
  const auto given = method.settings.find(method.name);
  for (const auto& s : spec.settings) {
    values[s.key] = s.value;
    if (given != method.settings.end()) {
      const auto it = given->second.find(s.key);
      if (it != given->second.end()) values[s.key] = it->second;
    }
  }
  return MethodValues(std::move(values));
}

MethodConfig resolvedMethodConfig(const MethodConfig& method) {
  MethodConfig resolved = method;
  resolved.settings[method.name] = methodValues(method).all();
  if (resolved.settings[method.name].empty()) resolved.settings.erase(method.name);
  return resolved;
}

ContrastiveModel makeContrastiveModel(const ModelConfig& model, const MethodConfig& method, int64_t in_channels,
                                      int64_t image_size) {
  const MethodSpec* spec = findMethodSpec(method.name);
  MethodValues values = methodValues(method);  // checks first: BadInput names the key
  auto backbone = makeBackbone(model, in_channels, image_size);
  MethodBuild build{model, std::move(values), backbone->featureDim(),
                    [&model, in_channels, image_size] { return makeBackbone(model, in_channels, image_size); }};
  auto parts = spec->make(build);
  parts->startFrom(*backbone);
  return ContrastiveModel(std::move(backbone), std::move(parts));
}

ContrastiveModel makeContrastiveModel(const ModelConfig& model, int64_t in_channels, int64_t image_size) {
  return makeContrastiveModel(model, MethodConfig{}, in_channels, image_size);
}

std::vector<torch::Tensor> tensorsOf(torch::nn::Module& module) {
  std::vector<torch::Tensor> out = module.parameters();
  for (const auto& b : module.buffers()) out.push_back(b);
  return out;
}

void copyInto(torch::nn::Module& from, torch::nn::Module& to) {
  torch::NoGradGuard no_grad;
  const auto source = tensorsOf(from), target = tensorsOf(to);
  if (source.size() != target.size()) throw std::logic_error("copyInto: the two networks differ");
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
  for (auto& p : to.parameters()) p.set_requires_grad(false);
}

void followOnline(torch::nn::Module& target, torch::nn::Module& online, double momentum) {
  emaUpdate(target.parameters(), online.parameters(), momentum);
}

MethodSetting realSetting(std::string key, double value, double min, double max, std::string help) {
  return {std::move(key), value, min, max, false, std::move(help)};
}

MethodSetting integerSetting(std::string key, int64_t value, int64_t min, int64_t max, std::string help) {
  return {std::move(key), double(value), double(min), double(max), true, std::move(help)};
}

}  // namespace studio
