#pragma once
// The experiment's numeric keys, each declared once with its range and meaning. The config
// reader (core/experiment/config.cpp) checks values against this table and the studio's fields take
// their ranges from it, so that an experiment valid for the engine is never clamped by the
// studio and saved back changed. Torch-free and Qt-free.
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

}  // namespace studio
