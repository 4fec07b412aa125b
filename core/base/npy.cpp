#include "core/base/npy.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/base/error.h"
#include "core/base/file_io.h"

namespace studio {
namespace {

namespace fs = std::filesystem;

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;
constexpr size_t kAlignment = 64;  // numpy pads the preamble so the data is 64-byte aligned

struct DtypeInfo {
  const char* descr;
  size_t itemSize;
};

constexpr DtypeInfo kDtypes[] = {{"<f4", 4}, {"<f8", 8}, {"<i8", 8}, {"<i4", 4}, {"|u1", 1}};

const DtypeInfo* findDtype(const std::string& descr) {
  for (const auto& d : kDtypes)
    if (descr == d.descr) return &d;
  return nullptr;
}

std::string supportedDtypes() {
  std::string list;
  for (const auto& d : kDtypes) list += (list.empty() ? "" : ", ") + std::string(d.descr);
  return list;
}

// Element count of a shape, refusing negative sizes and overflow. Returns false on either.
bool elementCount(const std::vector<int64_t>& shape, size_t itemSize, uint64_t& bytes) {
  uint64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return false;
    if (dim != 0 && count > std::numeric_limits<uint64_t>::max() / static_cast<uint64_t>(dim)) return false;
    count *= static_cast<uint64_t>(dim);
  }
  if (count != 0 && itemSize > std::numeric_limits<uint64_t>::max() / count) return false;
  bytes = count * itemSize;
  return true;
}

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";  // Python's one-element tuple
  return s + ")";
}


// ---- reading the header: a Python dict literal ------------------------------------------

struct PyValue {
  enum class Kind { String, Integer, Bool, None, Sequence } kind = Kind::None;
  std::string text;
  int64_t integer = 0;
  bool boolean = false;
  std::vector<PyValue> items;
};

// Parses the subset of Python literal syntax numpy writes in headers (strings, ints, bools,
// None, tuples and lists), tolerating any whitespace, key order and trailing commas.
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path) : s_(text), path_(path) {}

  std::vector<std::pair<std::string, PyValue>> dict() {
    std::vector<std::pair<std::string, PyValue>> entries;
    expect('{');
    while (true) {
      skipSpace();
      if (peek() == '}') {
        ++pos_;
        break;
      }
      PyValue key = value();
      if (key.kind != PyValue::Kind::String) fail("dictionary keys must be strings");
      expect(':');
      entries.emplace_back(key.text, value());
      skipSpace();
      if (peek() == ',') {
        ++pos_;
      } else if (peek() != '}') {
        fail("expected ',' or '}'");
      }
    }
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected text after the dictionary");
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throwBadInput(path_ + ": malformed .npy header at character " + std::to_string(pos_) + ": " + what +
                  " (header: " + s_.substr(0, 200) + (s_.size() > 200 ? "..." : "") + ")");
  }

  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }

  void skipSpace() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }

  void expect(char c) {
    skipSpace();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  bool consumeWord(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) != 0) return false;
    pos_ += n;
    return true;
  }

  PyValue value() {
    skipSpace();
    PyValue v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      ++pos_;
      v.kind = PyValue::Kind::String;
      while (pos_ < s_.size() && s_[pos_] != c) {
        if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
        v.text += s_[pos_++];
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      ++pos_;
    } else if (c == '(' || c == '[') {
      const char close = c == '(' ? ')' : ']';
      ++pos_;
      v.kind = PyValue::Kind::Sequence;
      while (true) {
        skipSpace();
        if (peek() == close) {
          ++pos_;
          break;
        }
        v.items.push_back(value());
        skipSpace();
        if (peek() == ',') {
          ++pos_;
        } else if (peek() != close) {
          fail(std::string("expected ',' or '") + close + "'");
        }
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '-') {
      v.kind = PyValue::Kind::Integer;
      const size_t start = pos_;
      if (c == '-') ++pos_;
      while (std::isdigit(static_cast<unsigned char>(peek()))) ++pos_;
      const std::string digits = s_.substr(start, pos_ - start);
      if (digits == "-") fail("expected a number");
      try {
        v.integer = std::stoll(digits);
      } catch (const std::exception&) {
        fail("number out of range: " + digits);
      }
      if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 longs, written by old numpy
    } else if (consumeWord("True")) {
      v.kind = PyValue::Kind::Bool;
      v.boolean = true;
    } else if (consumeWord("False")) {
      v.kind = PyValue::Kind::Bool;
      v.boolean = false;
    } else if (consumeWord("None")) {
      v.kind = PyValue::Kind::None;
    } else {
      fail("expected a string, number, True, False, None or tuple");
    }
    return v;
  }

  const std::string& s_;
  const std::string& path_;
  size_t pos_ = 0;
};

}  // namespace

void writeNpy(const std::string& path, const std::string& dtype, const std::vector<int64_t>& shape,
              const void* data) {
  const DtypeInfo* info = findDtype(dtype);
  if (!info)
    throwBadInput(path + ": unsupported dtype '" + dtype + "' (expected one of " + supportedDtypes() + ")");
  uint64_t dataBytes = 0;
  if (!elementCount(shape, info->itemSize, dataBytes))
    throwBadInput(path + ": invalid shape " + shapeText(shape) + " (expected non-negative sizes)");
  if (dataBytes > 0 && data == nullptr) throwBadInput(path + ": no data given for shape " + shapeText(shape));

  const std::string dict = "{'descr': '" + dtype + "', 'fortran_order': False, 'shape': " + shapeText(shape) + ", }";
  // Version 1.0 stores the header length in 16 bits; numpy itself switches to 2.0 beyond that.
  auto paddedHeaderLen = [&](size_t preamble) {
    const size_t total = (preamble + dict.size() + 1 + kAlignment - 1) / kAlignment * kAlignment;
    return total - preamble;
  };
  const bool version2 = paddedHeaderLen(kMagicSize + 4) > 0xffff;
  const size_t headerLen = paddedHeaderLen(kMagicSize + (version2 ? 6 : 4));
  std::string head(kMagic, kMagicSize);
  head += static_cast<char>(version2 ? 2 : 1);
  head += '\0';
  for (int i = 0; i < (version2 ? 4 : 2); ++i) head += static_cast<char>((headerLen >> (8 * i)) & 0xff);
  head += dict;
  head.append(headerLen - dict.size() - 1, ' ');
  head += '\n';

  writeFileAtomically(path, [&](std::ostream& out) {
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
    if (dataBytes > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(dataBytes));
  });
}

NpyArray readNpy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(path + ": cannot open (" + std::strerror(errno) + ")");
  in.seekg(0, std::ios::end);
  const std::streamoff end = in.tellg();
  in.seekg(0, std::ios::beg);
  if (end < 0 || !in) throwBadInput(path + ": cannot read (expected a regular .npy file)");
  const auto fileSize = static_cast<uint64_t>(end);

  char prefix[kMagicSize + 2] = {};
  if (!in.read(prefix, sizeof(prefix)) || std::memcmp(prefix, kMagic, kMagicSize) != 0)
    throwBadInput(path + ": not a .npy file (expected the magic string \\x93NUMPY at the start)");
  const int major = static_cast<unsigned char>(prefix[kMagicSize]);
  const int minor = static_cast<unsigned char>(prefix[kMagicSize + 1]);
  // 3.0 differs from 2.0 only by allowing UTF-8 in the header, which the parser passes through.
  if (major < 1 || major > 3)
    throwBadInput(path + ": unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                  " (expected 1.0, 2.0 or 3.0)");
  const size_t lenBytes = major == 1 ? 2 : 4;
  unsigned char lenRaw[4] = {};
  if (!in.read(reinterpret_cast<char*>(lenRaw), static_cast<std::streamsize>(lenBytes)))
    throwBadInput(path + ": truncated .npy header (expected a " + std::to_string(lenBytes) + "-byte header length)");
  uint64_t headerLen = 0;
  for (size_t i = 0; i < lenBytes; ++i) headerLen |= static_cast<uint64_t>(lenRaw[i]) << (8 * i);
  const uint64_t preamble = kMagicSize + 2 + lenBytes;
  if (preamble + headerLen > fileSize)
    throwBadInput(path + ": truncated .npy header (expected " + std::to_string(headerLen) + " header bytes, found " +
                  std::to_string(fileSize - preamble) + ")");
  std::string header(static_cast<size_t>(headerLen), '\0');
  in.read(header.data(), static_cast<std::streamsize>(headerLen));
  if (!in) throwBadInput(path + ": cannot read the .npy header");

  const PyValue* descr = nullptr;
  const PyValue* fortran = nullptr;
  const PyValue* shapeValue = nullptr;
  const auto entries = HeaderParser(header, path).dict();
  for (const auto& [key, value] : entries) {
    if (key == "descr") descr = &value;
    if (key == "fortran_order") fortran = &value;
    if (key == "shape") shapeValue = &value;
  }
  if (!descr) throwBadInput(path + ": .npy header has no 'descr' key");
  if (!fortran) throwBadInput(path + ": .npy header has no 'fortran_order' key");
  if (!shapeValue) throwBadInput(path + ": .npy header has no 'shape' key");

  if (descr->kind != PyValue::Kind::String)
    throwBadInput(path + ": unsupported dtype (structured arrays are not supported; expected one of " +
                  supportedDtypes() + ")");
  const DtypeInfo* info = findDtype(descr->text);
  if (!info)
    throwBadInput(path + ": unsupported dtype '" + descr->text + "' (expected one of " + supportedDtypes() + ")");
  if (fortran->kind != PyValue::Kind::Bool) throwBadInput(path + ": 'fortran_order' must be True or False");
  if (fortran->boolean)
    throwBadInput(path + ": Fortran-ordered arrays are not supported (expected fortran_order False)");
  if (shapeValue->kind != PyValue::Kind::Sequence)
    throwBadInput(path + ": 'shape' must be a tuple of integers");

  NpyArray array;
  array.dtype = info->descr;
  for (const auto& dim : shapeValue->items) {
    if (dim.kind != PyValue::Kind::Integer) throwBadInput(path + ": 'shape' must be a tuple of integers");
    array.shape.push_back(dim.integer);
  }
  uint64_t dataBytes = 0;
  if (!elementCount(array.shape, info->itemSize, dataBytes))
    throwBadInput(path + ": invalid shape " + shapeText(array.shape) + " (expected non-negative sizes)");
  const uint64_t available = fileSize - preamble - headerLen;
  if (available < dataBytes)
    throwBadInput(path + ": truncated: expected " + std::to_string(dataBytes) + " data bytes, found " +
                  std::to_string(available));
  // Trailing bytes are ignored, as numpy.load does.
  array.bytes.resize(static_cast<size_t>(dataBytes));
  if (dataBytes > 0 && !in.read(reinterpret_cast<char*>(array.bytes.data()), static_cast<std::streamsize>(dataBytes)))
    throwBadInput(path + ": cannot read " + std::to_string(dataBytes) + " data bytes");
  return array;
}

}  // namespace studio
