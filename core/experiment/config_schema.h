#pragma once
// The experiment's numeric and choice keys, each declared once with its range or its values
// and its meaning. The config reader (core/experiment/config.cpp) checks values against these
// tables and the studio's fields take their ranges, values and tooltips from them, so that an
// experiment valid for the engine is never clamped by the studio and saved back changed.
// Torch-free and Qt-free.
#include <string>
#include <vector>

namespace studio {

struct NumericKey {
  std::string path;  // "optim.lr"
  bool integer = false;
  double min = 0, max = 0;  // inclusive; integers up to 2^53 are exact as doubles
  std::string help;
};

const std::vector<NumericKey>& numericKeys();
// The key at path; std::logic_error for a path no one declared (a programming error).
const NumericKey& numericKey(const std::string& path);

// A key whose value is one of a closed list of words.
struct ChoiceKey {
  std::string path;                 // "optim.name"
  std::vector<std::string> values;  // every value the engine accepts
  std::string help;
  bool allows(const std::string& value) const;
};

const std::vector<ChoiceKey>& choiceKeys();
const ChoiceKey& choiceKey(const std::string& path);  // std::logic_error for an undeclared path

}  // namespace studio
