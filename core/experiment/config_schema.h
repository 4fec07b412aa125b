#pragma once
// The experiment's keys, each declared once (config_schema.cpp): its path, type, range or
// words, help text and the member of ExperimentConfig that holds it (whose initialiser is
// its default). ExperimentConfig::fromJson checks and reads every key through this table and
// toJson writes them from it; the CLI's --set types its values by it; the studio's fields take
// their ranges, words and tooltips from it. So an experiment valid for the engine is never
// clamped by the studio and saved back changed, and a new key is one line here plus its
// member. Torch-free and Qt-free.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace studio {

struct ExperimentConfig;

enum class KeyType { Integer, Number, Boolean, Text, Choice, NumberList, IntegerList };

struct ConfigKey {
  std::string path;  // "optim.lr"
  KeyType type = KeyType::Number;
  double min = 0, max = 0;                // Integer, Number: the value; lists: each entry (inclusive;
                                          // integers up to 2^53 are exact as doubles)
  size_t min_length = 0, max_length = 0;  // lists
  std::vector<std::string> values;        // Choice: every word the engine accepts
  std::string help;
  std::function<nlohmann::json(const ExperimentConfig&)> get;
  std::function<void(ExperimentConfig&, const nlohmann::json&)> set;  // takes what checked() returned

  bool integer() const { return type == KeyType::Integer; }
  bool numeric() const { return type == KeyType::Integer || type == KeyType::Number; }
  bool allows(const std::string& word) const;  // Choice: whether word is one of values
  nlohmann::json defaultValue() const;         // the value in a default ExperimentConfig
  // The value, normalised (2.0 for an integer key reads as 2), or studio::Error(BadInput)
  // naming the key, the value and what is allowed.
  nlohmann::json checked(const nlohmann::json& value) const;
};

// Every key, in the order files list them.
const std::vector<ConfigKey>& configKeys();
// The key at path; nullptr for a path no one declared.
const ConfigKey* findConfigKey(const std::string& path);
// The key at path; std::logic_error for an undeclared path (a programming error).
const ConfigKey& configKey(const std::string& path);
// The Integer and Number keys, and the Choice keys (views of configKeys()).
const std::vector<ConfigKey>& numericKeys();
const std::vector<ConfigKey>& choiceKeys();

}  // namespace studio
