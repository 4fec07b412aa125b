#include "core/base/safetensors.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/base/error.h"
#include "core/base/file_io.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.cpp reads and writes little-endian data in place: port it before building on a big-endian machine"
#endif

namespace studio {
namespace {

using Json = nlohmann::json;

struct DtypeInfo {
  const char* name;
  size_t size;
};
constexpr DtypeInfo kDtypes[] = {{"F64", 8},  {"F32", 4},  {"F16", 2},  {"BF16", 2}, {"I64", 8},
                                 {"I32", 4},  {"I16", 2},  {"I8", 1},   {"U64", 8},  {"U32", 4},
                                 {"U16", 2},  {"U8", 1},   {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};

std::string shapeText(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

// numel, or -1 when the product overflows what a file could hold.
int64_t checkedNumel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) return -1;
    if (d != 0 && n > (int64_t(1) << 62) / d) return -1;
    n *= d;
  }
  return n;
}

template <typename T>
void convert(const uint8_t* src, int64_t n, std::vector<float>& out) {
  for (int64_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, src + i * sizeof(T), sizeof(T));
    out[static_cast<size_t>(i)] = static_cast<float>(v);
  }
}

}  // namespace

size_t safetensorsDtypeSize(const std::string& dtype) {
  for (const auto& d : kDtypes)
    if (dtype == d.name) return d.size;
  return 0;
}

const std::vector<std::string>& safetensorsDtypes() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& d : kDtypes) v.push_back(d.name);
    return v;
  }();
  return names;
}

int64_t SafetensorsEntry::numel() const { return checkedNumel(shape); }

float halfToFloat(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mantissa <<= 1;
      } while ((mantissa & 0x400u) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mantissa & 0x3ffu) << 13);
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bfloat16ToFloat(uint16_t b) {
  const uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t floatToBfloat16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t floatToHalf(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | (abs > 0x7f800000u ? 0x7e00u : 0x7c00u);  // NaN, inf
  if (abs >= 0x477ff000u) return sign | 0x7c00u;                                  // overflows to inf
  if (abs < 0x38800000u) {                                                         // half subnormal or zero
    if (abs < 0x33000000u) return sign;
    const uint32_t exponent = abs >> 23;
    const uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - exponent;  // 14..24
    uint32_t value = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rest > half || (rest == half && (value & 1u))) ++value;
    return sign | static_cast<uint16_t>(value);
  }
  uint32_t value = ((abs >> 13) - (112u << 10));
  const uint32_t rest = abs & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (value & 1u))) ++value;
  return sign | static_cast<uint16_t>(value);
}

SafetensorsFile SafetensorsFile::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throwBadInput(path + ": cannot be read (" + std::string(std::strerror(errno)) + ")");
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) throwFailure(path + ": read error");
  return parse(s.str(), path);
}

SafetensorsFile SafetensorsFile::parse(std::string bytes, const std::string& source) {
  auto fail = [&](const std::string& problem) -> void { throwBadInput(source + ": not a valid safetensors file: " + problem); };
  SafetensorsFile f;
  f.source_ = source;
  const uint64_t size = bytes.size();
  if (size < 8)
    fail("only " + std::to_string(size) + " bytes, too short for the 8-byte header length (truncated file?)");
  uint64_t header_length = 0;
  std::memcpy(&header_length, bytes.data(), 8);
  if (header_length > size - 8)
    fail("the header length " + std::to_string(header_length) + " runs past the end of the file (" +
         std::to_string(size - 8) + " bytes follow the length; truncated file?)");
  if (header_length > kMaxHeaderBytes)
    fail("the header length " + std::to_string(header_length) + " is absurd (more than " +
         std::to_string(kMaxHeaderBytes) + " bytes)");
  if (header_length < 2) fail("the header (" + std::to_string(header_length) + " bytes) is not a JSON object");
  const std::string header_text = bytes.substr(8, header_length);
  if (header_text.front() != '{') fail("the header is not JSON (it does not start with '{')");
  Json header;
  try {
    header = Json::parse(header_text);
  } catch (const Json::exception& e) {
    fail("the header is not JSON (" + std::string(e.what()) + ")");
  }
  if (!header.is_object()) fail("the header is not a JSON object");

  const uint64_t data_start = 8 + header_length;
  const uint64_t data_size = size - data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const Json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) fail("__metadata__ must be an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) fail("__metadata__[\"" + m.key() + "\"] must be a string, got " + m.value().dump());
        f.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor \"" + name + "\"";
    if (!v.is_object()) fail(where + " must be an object with dtype, shape and data_offsets");
    if (!v.contains("dtype") || !v["dtype"].is_string()) fail(where + " has no dtype string");
    if (!v.contains("shape") || !v["shape"].is_array()) fail(where + " has no shape list");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      fail(where + " has no data_offsets [begin, end]");
    SafetensorsEntry e;
    e.name = name;
    e.dtype = v["dtype"].get<std::string>();
    const size_t item = safetensorsDtypeSize(e.dtype);
    if (item == 0) {
      std::string known;
      for (const auto& d : safetensorsDtypes()) known += (known.empty() ? "" : ", ") + d;
      fail(where + " has the unknown dtype \"" + e.dtype + "\" (known: " + known + ")");
    }
    for (const Json& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail(where + " has a shape entry that is not a non-negative integer: " + d.dump());
      e.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(d.get<uint64_t>(), uint64_t(1) << 62)));
    }
    for (int i = 0; i < 2; ++i)
      if (!v["data_offsets"][i].is_number_unsigned())
        fail(where + " has data_offsets that are not non-negative integers: " + v["data_offsets"].dump());
    e.begin = v["data_offsets"][0].get<uint64_t>();
    e.end = v["data_offsets"][1].get<uint64_t>();
    if (e.end < e.begin) fail(where + " has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] that end before they begin");
    const int64_t numel = checkedNumel(e.shape);
    if (numel < 0) fail(where + " has an impossible shape " + shapeText(e.shape));
    const uint64_t expected = static_cast<uint64_t>(numel) * item;
    if (e.end - e.begin != expected)
      fail(where + " (" + e.dtype + " " + shapeText(e.shape) + ") needs " + std::to_string(expected) +
           " bytes but its data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + "] hold " +
           std::to_string(e.end - e.begin));
    if (e.end > data_size)
      fail(where + " has data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
           "] past the end of the data (" + std::to_string(data_size) + " bytes; truncated file?)");
    f.entries_.push_back(std::move(e));
  }
  std::sort(f.entries_.begin(), f.entries_.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < f.entries_.size(); ++i) {
    const auto& e = f.entries_[i];
    if (e.begin < covered)
      fail("tensors \"" + f.entries_[i - 1].name + "\" and \"" + e.name + "\" overlap (bytes " + std::to_string(e.begin) +
           " to " + std::to_string(covered) + ")");
    if (e.begin > covered)
      fail("bytes " + std::to_string(covered) + " to " + std::to_string(e.begin) + " before tensor \"" + e.name +
           "\" belong to no tensor");
    covered = e.end;
  }
  if (covered != data_size)
    fail(std::to_string(data_size - covered) + " bytes after the last tensor belong to no tensor");
  f.data_start_ = data_start;
  f.bytes_ = std::make_shared<const std::string>(std::move(bytes));
  return f;
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

const uint8_t* SafetensorsFile::data(const SafetensorsEntry& entry) const {
  return reinterpret_cast<const uint8_t*>(bytes_->data()) + data_start_ + entry.begin;
}

std::vector<float> SafetensorsFile::toFloat32(const SafetensorsEntry& e) const {
  const int64_t n = e.numel();
  std::vector<float> out(static_cast<size_t>(n));
  const uint8_t* p = data(e);
  if (e.dtype == "F32") {
    if (n > 0) std::memcpy(out.data(), p, static_cast<size_t>(n) * 4);
  } else if (e.dtype == "F64") {
    convert<double>(p, n, out);
  } else if (e.dtype == "F16" || e.dtype == "BF16") {
    const bool half = e.dtype == "F16";
    for (int64_t i = 0; i < n; ++i) {
      uint16_t v;
      std::memcpy(&v, p + 2 * i, 2);
      out[static_cast<size_t>(i)] = half ? halfToFloat(v) : bfloat16ToFloat(v);
    }
  } else if (e.dtype == "I64") {
    convert<int64_t>(p, n, out);
  } else if (e.dtype == "I32") {
    convert<int32_t>(p, n, out);
  } else if (e.dtype == "I16") {
    convert<int16_t>(p, n, out);
  } else if (e.dtype == "I8") {
    convert<int8_t>(p, n, out);
  } else if (e.dtype == "U8" || e.dtype == "BOOL") {
    convert<uint8_t>(p, n, out);
  } else {
    throwBadInput(source_ + ": tensor \"" + e.name + "\" has dtype " + e.dtype + ", which this studio cannot convert to float32");
  }
  return out;
}

void SafetensorsWriter::add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                            const void* bytes, size_t byte_count) {
  const size_t item = safetensorsDtypeSize(dtype);
  if (item == 0) throwBadInput("safetensors: tensor \"" + name + "\": unknown dtype \"" + dtype + "\"");
  if (name.empty() || name == "__metadata__") throwBadInput("safetensors: \"" + name + "\" cannot name a tensor");
  for (const auto& t : tensors_)
    if (t.name == name) throwBadInput("safetensors: tensor \"" + name + "\" added twice");
  const int64_t numel = checkedNumel(shape);
  if (numel < 0 || static_cast<uint64_t>(numel) * item != byte_count)
    throwBadInput("safetensors: tensor \"" + name + "\" (" + dtype + " " + shapeText(shape) + ") given " +
                  std::to_string(byte_count) + " bytes");
  Tensor t{name, dtype, shape, std::string(static_cast<const char*>(bytes), byte_count)};
  tensors_.push_back(std::move(t));
}

std::string SafetensorsWriter::serialize() const {
  Json header = Json::object();
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    header[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  std::string text = header.dump(-1, ' ', false, Json::error_handler_t::replace);
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out;
  out.reserve(8 + text.size() + offset);
  const uint64_t length = text.size();
  out.append(reinterpret_cast<const char*>(&length), 8);
  out += text;
  for (const auto& t : tensors_) out += t.bytes;
  return out;
}

void SafetensorsWriter::write(const std::string& path) const { writeFileAtomically(path, serialize()); }

}  // namespace studio
