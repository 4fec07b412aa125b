#include "core/experiment/config.h"

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

std::string sectionOf(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? std::string() : path.substr(0, dot);
}
std::string nameOf(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}
std::string join(const std::string& section, const std::string& name) {
  return section.empty() ? name : section + "." + name;
}

// The names the schema declares directly inside section ("" = the top level), in order:
// keys and sub-sections ("dataset", "augment", ... at the top).
std::vector<std::string> namesIn(const std::string& section) {
  std::vector<std::string> names;
  for (const auto& key : configKeys()) {
    const std::string& p = key.path;
    if (!section.empty() && p.compare(0, section.size() + 1, section + ".") != 0) continue;
    const std::string rest = section.empty() ? p : p.substr(section.size() + 1);
    const std::string name = rest.substr(0, rest.find('.'));
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

// The object at section ("a.b"), nullptr when the document leaves it out; a value there that
// is not an object is refused.
const Json* sectionIn(const Json& json, const std::string& section) {
  const Json* node = &json;
  std::string walked;
  size_t start = 0;
  while (!section.empty() && start <= section.size()) {
    const auto dot = section.find('.', start);
    const std::string part = section.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    walked = join(walked, part);
    const auto it = node->find(part);
    if (it == node->end()) return nullptr;
    if (!it->is_object()) throwBadInput("config: '" + walked + "' must be an object");
    node = &*it;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return node;
}

// Anything in the document the schema does not declare is refused, naming what is known there.
void refuseUnknownKeys(const Json& object, const std::string& section) {
  const auto known = namesIn(section);
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throwBadInput("config: unknown key '" + join(section, it.key()) + "'" + (list.empty() ? "" : " (known here: " + list + ")"));
    }
    // The method section holds the methods' own blocks beside "name": readMethodBlocks checks it.
    if (it->is_object() && !findConfigKey(join(section, it.key())) && join(section, it.key()) != "method")
      refuseUnknownKeys(*it, join(section, it.key()));
  }
}

// The "method" object: "name" (a schema key) and one block per method of its own numeric
// settings, which core/methods declares and checks. "temperature" beside "name" is the
// form before methods had blocks: it belongs to the named method.
void readMethodBlocks(const Json& json, MethodConfig& method) {
  const auto section = json.find("method");
  if (section == json.end()) return;
  if (!section->is_object()) throwBadInput("config: 'method' must be an object");
  for (auto it = section->begin(); it != section->end(); ++it) {
    const std::string& key = it.key();
    if (key == "name") continue;
    if (key == "temperature") {
      if (!it->is_number()) throwBadInput("config: method.temperature must be a number");
      method.settings[method.name]["temperature"] = it->get<double>();
      continue;
    }
    if (!it->is_object())
      throwBadInput("config: unknown key 'method." + key + "' (known here: name, and one block of settings per method, " +
                    "e.g. \"simclr\": {\"temperature\": 0.5})");
    for (auto setting = it->begin(); setting != it->end(); ++setting) {
      if (!setting->is_number() && !setting->is_boolean())
        throwBadInput("config: method." + key + "." + setting.key() + " must be a number, not " + setting->dump());
      method.settings[key][setting.key()] = setting->is_boolean() ? double(setting->get<bool>()) : setting->get<double>();
    }
  }
}

// Rules that tie keys together, beyond each key's own range.
void checkAcrossKeys(const ExperimentConfig& c) {
  const auto& a = c.augment;
  if (a.crop_scale_min > a.crop_scale_max)
    throwBadInput("config: augment.crop_scale_min (" + formatNumber(a.crop_scale_min) +
                  ") must not exceed augment.crop_scale_max (" + formatNumber(a.crop_scale_max) + ")");
  if (a.local_scale_min > a.local_scale_max)
    throwBadInput("config: augment.local_scale_min (" + formatNumber(a.local_scale_min) +
                  ") must not exceed augment.local_scale_max (" + formatNumber(a.local_scale_max) + ")");
  if (a.local_size != 0 && a.local_size < kMinLocalViewSide)
    throwBadInput("config: augment.local_size = " + std::to_string(a.local_size) + ": a local view needs at least " +
                  std::to_string(kMinLocalViewSide) + " pixels a side (or 0 for 3/7 of the global side)");
  if (a.crop_ratio_min > a.crop_ratio_max)
    throwBadInput("config: augment.crop_ratio_min must not exceed augment.crop_ratio_max");
  if (a.blur_sigma_min > a.blur_sigma_max)
    throwBadInput("config: augment.blur_sigma_min must not exceed augment.blur_sigma_max");
  if (a.blur_kernel != 0 && a.blur_kernel % 2 == 0)
    throwBadInput("config: augment.blur_kernel = " + std::to_string(a.blur_kernel) + " must be odd (or 0 for automatic)");
  if (a.mean.size() != a.std.size())
    throwBadInput("config: augment.mean and augment.std must have the same length (one value per channel)");
  if (!isDeviceSpec(c.train.device))
    throwBadInput("config: train.device = \"" + c.train.device + "\" is not one of: auto, cpu, cuda, cuda:N");
}

}  // namespace

ExperimentConfig ExperimentConfig::fromJson(const Json& json) {
  if (!json.is_object()) throwBadInput("config: the top level must be an object");
  refuseUnknownKeys(json, "");
  ExperimentConfig c;
  for (const auto& key : configKeys()) {
    const Json* section = sectionIn(json, sectionOf(key.path));
    if (!section) continue;
    const auto it = section->find(nameOf(key.path));
    if (it != section->end()) key.set(c, key.checked(*it));
  }
  readMethodBlocks(json, c.method);
  checkAcrossKeys(c);
  return c;
}

Json ExperimentConfig::toJson() const {
  Json j = Json::object();
  for (const auto& key : configKeys()) {
    Json* node = &j;
    const std::string section = sectionOf(key.path);
    size_t start = 0;
    while (!section.empty()) {
      const auto dot = section.find('.', start);
      node = &(*node)[section.substr(start, dot == std::string::npos ? std::string::npos : dot - start)];
      if (dot == std::string::npos) break;
      start = dot + 1;
    }
    (*node)[nameOf(key.path)] = key.get(*this);
  }
  for (const auto& [method, settings] : method.settings)
    for (const auto& [key, value] : settings) j["method"][method][key] = value;
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
  const ConfigKey* declared = findConfigKey(key);
  const bool words = declared && (declared->type == KeyType::Text || declared->type == KeyType::Choice);
  Json value;
  try {
    value = Json::parse(text);
  } catch (const Json::parse_error&) {
    value = text;
  }
  // A text or choice key takes the text as written, unless it is a quoted JSON string.
  if (words && !value.is_string()) value = text;
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
