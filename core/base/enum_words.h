#pragma once
// Closed choices are enums in code and words in files, on the command line and in the studio
// ("resnet18", "bf16", "step"). Each enum declares its words once, beside its definition:
//
//   enum class Precision { Auto, Fp32, Bf16 };
//   template <> struct EnumWords<Precision> {
//     static constexpr std::pair<Precision, const char*> table[] = {{Precision::Auto, "auto"}, ...};
//   };
//
// and these helpers translate both ways. Torch-free and Qt-free.
#include <string>
#include <utility>
#include <vector>

namespace studio {

template <typename E>
struct EnumWords;  // specialised beside each enum, as above

// The word of value ("?" for a value missing from its table: a programming error).
template <typename E>
std::string wordOf(E value) {
  for (const auto& [v, word] : EnumWords<E>::table)
    if (v == value) return word;
  return "?";
}

// The value whose word is word; false (and out untouched) when no value has it.
template <typename E>
bool enumFromWord(const std::string& word, E& out) {
  for (const auto& [v, w] : EnumWords<E>::table)
    if (word == w) {
      out = v;
      return true;
    }
  return false;
}

// Every word, in declaration order (the order menus and messages list them).
template <typename E>
std::vector<std::string> enumWords() {
  std::vector<std::string> words;
  for (const auto& entry : EnumWords<E>::table) words.emplace_back(entry.second);
  return words;
}

}  // namespace studio
