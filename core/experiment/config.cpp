#include "core/experiment/config.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "core/experiment/config_schema.h"
#include "core/base/error.h"
#include "core/base/text_format.h"

namespace studio {

bool isDeviceSpec(const std::string& spec) {
  return spec == "auto" || spec == "cpu" || spec == "cuda" ||
         (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() < 9 &&
          spec.find_first_not_of("0123456789", 5) == std::string::npos);
}
namespace {

// Reads one JSON object, tracking the key path for messages and refusing unknown keys.
class ObjectReader {
 public:
  ObjectReader(const Json& json, std::string path) : json_(json), path_(std::move(path)) {
    if (!json_.is_object()) throwBadInput("config: " + where() + " must be an object");
  }

  template <typename T>
  void integer(const char* key, T& out, int64_t lo, int64_t hi) {
    const Json* v = take(key);
    if (!v) return;
    if (!v->is_number_integer() && !(v->is_number_float() && std::floor(v->get<double>()) == v->get<double>()))
      throwBadInput("config: " + keyPath(key) + " must be an integer, got " + v->dump());
    const auto x = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(v->get<double>());
    if (x < lo || x > hi)
      throwBadInput("config: " + keyPath(key) + " = " + std::to_string(x) + " is out of range [" +
                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = static_cast<T>(x);
  }

  // Integers and numbers take their range from the schema (core/experiment/config_schema.h).
  template <typename T>
  void integer(const char* key, T& out) {
    const NumericKey& k = numericKey(keyPath(key));
    integer(key, out, static_cast<int64_t>(k.min), static_cast<int64_t>(k.max));
  }
  void number(const char* key, double& out) {
    const NumericKey& k = numericKey(keyPath(key));
    number(key, out, k.min, k.max);
  }

  void number(const char* key, double& out, double lo, double hi) {
    const Json* v = take(key);
    if (!v) return;
    if (!v->is_number()) throwBadInput("config: " + keyPath(key) + " must be a number, got " + v->dump());
    const double x = v->get<double>();
    if (!(x >= lo && x <= hi))
      throwBadInput("config: " + keyPath(key) + " = " + formatNumber(x) + " is out of range [" + formatNumber(lo) +
                    ", " + formatNumber(hi) + "]");
    out = x;
  }

  void boolean(const char* key, bool& out) {
    const Json* v = take(key);
    if (!v) return;
    if (!v->is_boolean()) throwBadInput("config: " + keyPath(key) + " must be true or false, got " + v->dump());
    out = v->get<bool>();
  }

  void string(const char* key, std::string& out) {
    const Json* v = take(key);
    if (!v) return;
    if (!v->is_string()) throwBadInput("config: " + keyPath(key) + " must be a string, got " + v->dump());
    out = v->get<std::string>();
  }

  // Choices take their values from the schema too.
  void choice(const char* key, std::string& out) {
    const ChoiceKey& k = choiceKey(keyPath(key));
    std::string value = out;
    string(key, value);
    if (k.allows(value)) {
      out = value;
      return;
    }
    std::string list;
    for (const auto& a : k.values) list += (list.empty() ? "" : ", ") + a;
    throwBadInput("config: " + keyPath(key) + " = \"" + value + "\" is not one of: " + list);
  }

  void numberList(const char* key, std::vector<double>& out, double lo, double hi, size_t min_len, size_t max_len) {
    const Json* v = take(key);
    if (!v) return;
    if (!v->is_array() || v->size() < min_len || v->size() > max_len)
      throwBadInput("config: " + keyPath(key) + " must be a list of " + std::to_string(min_len) + " to " +
                    std::to_string(max_len) + " numbers, got " + v->dump());
    std::vector<double> r;
    for (const auto& e : *v) {
      if (!e.is_number() || e.get<double>() < lo || e.get<double>() > hi)
        throwBadInput("config: " + keyPath(key) + " entries must be numbers in [" + formatNumber(lo) + ", " +
                      formatNumber(hi) + "], got " + e.dump());
      r.push_back(e.get<double>());
    }
    out = r;
  }

  void integerList(const char* key, std::vector<int64_t>& out, int64_t lo, int64_t hi, size_t min_len, size_t max_len) {
    std::vector<double> d;
    numberList(key, d, static_cast<double>(lo), static_cast<double>(hi), min_len, max_len);
    if (!json_.contains(key)) return;
    out.clear();
    for (double x : d) {
      if (std::floor(x) != x) throwBadInput("config: " + keyPath(key) + " entries must be integers");
      out.push_back(static_cast<int64_t>(x));
    }
  }

  // Sub-object reader, or nullptr-equivalent when absent.
  bool has(const char* key) const { return json_.contains(key); }
  ObjectReader child(const char* key) {
    const Json* v = take(key);
    return ObjectReader(*v, keyPath(key));
  }

  // Every key must have been read: anything left is unknown.
  void finish() const {
    for (auto it = json_.begin(); it != json_.end(); ++it) {
      if (seen_.count(it.key())) continue;
      std::string known;
      for (const auto& k : seen_names_) known += (known.empty() ? "" : ", ") + k;
      throwBadInput("config: unknown key '" + keyPath(it.key().c_str()) + "'" +
                    (known.empty() ? "" : " (known here: " + known + ")"));
    }
  }

  void expect(std::initializer_list<const char*> names) {
    for (auto n : names) seen_names_.push_back(n);
  }

 private:
  const Json* take(const char* key) {
    seen_.insert(key);
    if (std::find(seen_names_.begin(), seen_names_.end(), std::string(key)) == seen_names_.end())
      seen_names_.push_back(key);
    auto it = json_.find(key);
    return it == json_.end() ? nullptr : &*it;
  }
  std::string where() const { return path_.empty() ? "the top level" : "'" + path_ + "'"; }
  std::string keyPath(const char* key) const { return path_.empty() ? key : path_ + "." + key; }

  const Json& json_;
  std::string path_;
  std::set<std::string> seen_;
  std::vector<std::string> seen_names_;
};

template <typename F>
void readSection(ObjectReader& top, const char* key, F&& read) {
  if (!top.has(key)) {
    top.expect({key});
    return;
  }
  ObjectReader r = top.child(key);
  read(r);
  r.finish();
}

}  // namespace

ExperimentConfig ExperimentConfig::fromJson(const Json& json) {
  ExperimentConfig c;
  ObjectReader top(json, "");
  top.string("name", c.name);
  readSection(top, "dataset", [&](ObjectReader& r) {
    r.choice("kind", c.dataset.kind);
    r.string("path", c.dataset.path);
    r.integer("train_limit", c.dataset.train_limit);
    r.number("holdout_fraction", c.dataset.holdout_fraction);
  });
  readSection(top, "augment", [&](ObjectReader& r) {
    auto& a = c.augment;
    r.integer("out_size", a.out_size);
    r.boolean("crop", a.crop);
    r.number("crop_scale_min", a.crop_scale_min);
    r.number("crop_scale_max", a.crop_scale_max);
    r.number("crop_ratio_min", a.crop_ratio_min);
    r.number("crop_ratio_max", a.crop_ratio_max);
    r.number("flip_p", a.flip_p);
    r.number("jitter_p", a.jitter_p);
    r.number("brightness", a.brightness);
    r.number("contrast", a.contrast);
    r.number("saturation", a.saturation);
    r.number("hue", a.hue);
    r.number("grayscale_p", a.grayscale_p);
    r.number("blur_p", a.blur_p);
    r.number("blur_sigma_min", a.blur_sigma_min);
    r.number("blur_sigma_max", a.blur_sigma_max);
    r.integer("blur_kernel", a.blur_kernel);
    r.number("solarize_p", a.solarize_p);
    r.number("solarize_threshold", a.solarize_threshold);
    r.numberList("mean", a.mean, 0.0, 1.0, 0, 4);
    r.numberList("std", a.std, 1e-4, 10.0, 0, 4);
    if (a.crop_scale_min > a.crop_scale_max)
      throwBadInput("config: augment.crop_scale_min (" + formatNumber(a.crop_scale_min) +
                    ") must not exceed augment.crop_scale_max (" + formatNumber(a.crop_scale_max) + ")");
    if (a.crop_ratio_min > a.crop_ratio_max)
      throwBadInput("config: augment.crop_ratio_min must not exceed augment.crop_ratio_max");
    if (a.blur_sigma_min > a.blur_sigma_max)
      throwBadInput("config: augment.blur_sigma_min must not exceed augment.blur_sigma_max");
    if (a.blur_kernel != 0 && a.blur_kernel % 2 == 0)
      throwBadInput("config: augment.blur_kernel = " + std::to_string(a.blur_kernel) + " must be odd (or 0 for automatic)");
    if (a.mean.size() != a.std.size())
      throwBadInput("config: augment.mean and augment.std must have the same length (one value per channel)");
  });
  readSection(top, "model", [&](ObjectReader& r) {
    r.choice("backbone", c.model.backbone);
    r.choice("stem", c.model.stem);
    r.integer("width", c.model.width);
    r.integerList("head_dims", c.model.head_dims, 2, 16384, 1, 4);
    r.string("init_from", c.model.init_from);
    r.boolean("init_strict", c.model.init_strict);
  });
  readSection(top, "method", [&](ObjectReader& r) {
    r.choice("name", c.method.name);
    r.number("temperature", c.method.temperature);
  });
  readSection(top, "optim", [&](ObjectReader& r) {
    r.choice("name", c.optim.name);
    r.number("lr", c.optim.lr);
    r.number("weight_decay", c.optim.weight_decay);
    r.number("momentum", c.optim.momentum);
    r.number("warmup_epochs", c.optim.warmup_epochs);
    r.number("min_lr_ratio", c.optim.min_lr_ratio);
    r.number("lars_eta", c.optim.lars_eta);
    r.number("backbone_lr_mult", c.optim.backbone_lr_mult);
    r.integer("freeze_stages", c.optim.freeze_stages);
  });
  readSection(top, "train", [&](ObjectReader& r) {
    r.integer("epochs", c.train.epochs);
    r.integer("batch_size", c.train.batch_size);
    r.integer("seed", c.train.seed);
    r.string("device", c.train.device);
    r.integer("threads", c.train.threads);
    r.integer("checkpoint_every_steps", c.train.checkpoint_every_steps);
    r.integer("max_steps", c.train.max_steps);
    if (!isDeviceSpec(c.train.device))
      throwBadInput("config: train.device = \"" + c.train.device + "\" is not one of: auto, cpu, cuda, cuda:N");
  });
  readSection(top, "monitor", [&](ObjectReader& r) {
    r.number("every_epochs", c.monitor.every_epochs);
    r.integer("k", c.monitor.k);
    r.number("temperature", c.monitor.temperature);
    r.integer("bank_size", c.monitor.bank_size);
    r.integer("query_size", c.monitor.query_size);
    r.integer("map_size", c.monitor.map_size);
  });
  readSection(top, "engine", [&](ObjectReader& r) {
    auto& e = c.engine;
    r.choice("augment", e.augment);
    r.choice("precision", e.precision);
    r.choice("channels_last", e.channels_last);
    r.boolean("tf32", e.tf32);
    r.boolean("cudnn_benchmark", e.cudnn_benchmark);
    r.boolean("cuda_graph", e.cuda_graph);
    r.choice("resident_data", e.resident_data);
    r.integer("prefetch", e.prefetch);
    r.boolean("host_memory_cache", e.host_memory_cache);
  });
  top.finish();
  return c;
}

Json ExperimentConfig::toJson() const {
  const auto& a = augment;
  Json j;
  j["name"] = name;
  j["dataset"] = {{"kind", dataset.kind}, {"path", dataset.path}, {"train_limit", dataset.train_limit},
                  {"holdout_fraction", dataset.holdout_fraction}};
  j["augment"] = {{"out_size", a.out_size},
                  {"crop", a.crop},
                  {"crop_scale_min", a.crop_scale_min},
                  {"crop_scale_max", a.crop_scale_max},
                  {"crop_ratio_min", a.crop_ratio_min},
                  {"crop_ratio_max", a.crop_ratio_max},
                  {"flip_p", a.flip_p},
                  {"jitter_p", a.jitter_p},
                  {"brightness", a.brightness},
                  {"contrast", a.contrast},
                  {"saturation", a.saturation},
                  {"hue", a.hue},
                  {"grayscale_p", a.grayscale_p},
                  {"blur_p", a.blur_p},
                  {"blur_sigma_min", a.blur_sigma_min},
                  {"blur_sigma_max", a.blur_sigma_max},
                  {"blur_kernel", a.blur_kernel},
                  {"solarize_p", a.solarize_p},
                  {"solarize_threshold", a.solarize_threshold},
                  {"mean", a.mean},
                  {"std", a.std}};
  j["model"] = {{"backbone", model.backbone},   {"stem", model.stem},
                {"width", model.width},         {"head_dims", model.head_dims},
                {"init_from", model.init_from}, {"init_strict", model.init_strict}};
  j["method"] = {{"name", method.name}, {"temperature", method.temperature}};
  j["optim"] = {{"name", optim.name},
                {"lr", optim.lr},
                {"weight_decay", optim.weight_decay},
                {"momentum", optim.momentum},
                {"warmup_epochs", optim.warmup_epochs},
                {"min_lr_ratio", optim.min_lr_ratio},
                {"lars_eta", optim.lars_eta},
                {"backbone_lr_mult", optim.backbone_lr_mult},
                {"freeze_stages", optim.freeze_stages}};
  j["train"] = {{"epochs", train.epochs},
                {"batch_size", train.batch_size},
                {"seed", train.seed},
                {"device", train.device},
                {"threads", train.threads},
                {"checkpoint_every_steps", train.checkpoint_every_steps},
                {"max_steps", train.max_steps}};
  j["monitor"] = {{"every_epochs", monitor.every_epochs},
                  {"k", monitor.k},
                  {"temperature", monitor.temperature},
                  {"bank_size", monitor.bank_size},
                  {"query_size", monitor.query_size},
                  {"map_size", monitor.map_size}};
  j["engine"] = {{"augment", engine.augment},
                 {"precision", engine.precision},
                 {"channels_last", engine.channels_last},
                 {"tf32", engine.tf32},
                 {"cudnn_benchmark", engine.cudnn_benchmark},
                 {"cuda_graph", engine.cuda_graph},
                 {"resident_data", engine.resident_data},
                 {"prefetch", engine.prefetch},
                 {"host_memory_cache", engine.host_memory_cache}};
  return j;
}

ExperimentConfig loadExperimentConfig(const std::string& path) {
  const std::string text = readTextFile(path);
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& e) {
    throwBadInput(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  try {
    return ExperimentConfig::fromJson(json);
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
}

void saveExperimentConfig(const ExperimentConfig& config, const std::string& path) {
  writeFileAtomically(path, config.toJson().dump(2) + "\n");
}

void applyConfigOverride(Json& json, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throwBadInput("--set expects key=value (e.g. train.epochs=3), got \"" + assignment + "\"");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;
  }
  Json* node = &json;
  size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (part.empty()) throwBadInput("--set: malformed key \"" + key + "\"");
    if (!node->is_object()) throwBadInput("--set: \"" + key + "\" goes through a value that is not an object");
    if (dot == std::string::npos) {
      (*node)[part] = value;
      return;
    }
    node = &(*node)[part];
    if (node->is_null()) *node = Json::object();
    start = dot + 1;
  }
}

}  // namespace studio
