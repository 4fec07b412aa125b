#pragma once
// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes
// of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}), then the tensors' bytes, little-endian, C order.
// Torch-free on purpose: the ONNX exporter (which must not load LibTorch) reads the same
// files through this code. core/exchange/weight_import.h turns entries into torch tensors.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace studio {

// Bytes per element of a safetensors dtype ("F32", "BF16", "I64", ...); 0 when unknown.
size_t safetensorsDtypeSize(const std::string& dtype);
// The dtypes this studio reads and writes, for messages.
const std::vector<std::string>& safetensorsDtypes();

struct SafetensorsEntry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data area
  int64_t numel() const;
};

// A whole safetensors file in memory, validated when read. Refused, with studio::Error
// (BadInput) naming the file and the problem: a file shorter than 8 bytes, a header length
// past the end of the file or larger than kMaxHeaderBytes, a header that is not a JSON
// object, an entry without dtype/shape/data_offsets, an unknown dtype, offsets past the end
// of the data, overlapping, leaving gaps, or not matching shape x dtype size.
class SafetensorsFile {
 public:
  static constexpr uint64_t kMaxHeaderBytes = 100u << 20;  // the reference implementation's limit

  static SafetensorsFile read(const std::string& path);
  // source names the bytes in messages (a path, "memory").
  static SafetensorsFile parse(std::string bytes, const std::string& source);

  const std::string& source() const { return source_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }  // in data order
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;
  // The entry's bytes (little-endian), valid while this object lives.
  const uint8_t* data(const SafetensorsEntry& entry) const;
  // The entry converted to float32 (from F32, F64, F16, BF16 and the integer dtypes).
  std::vector<float> toFloat32(const SafetensorsEntry& entry) const;

 private:
  std::string source_;
  std::shared_ptr<const std::string> bytes_;
  uint64_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Builds a safetensors file: tensors in the order added, the header padded with spaces to a
// multiple of 8 bytes (so every tensor starts 8-byte aligned when sizes allow), written
// atomically. add() refuses unknown dtypes, duplicate names and byte counts that do not
// match the shape.
class SafetensorsWriter {
 public:
  void add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape, const void* bytes,
           size_t byte_count);
  void setMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  std::string serialize() const;
  void write(const std::string& path) const;
  size_t size() const { return tensors_.size(); }

 private:
  struct Tensor {
    std::string name, dtype;
    std::vector<int64_t> shape;
    std::string bytes;
  };
  std::vector<Tensor> tensors_;
  std::map<std::string, std::string> metadata_;
};

// IEEE half and bfloat16 to float (exact), float to half (round to nearest even) and
// bfloat16 (round to nearest even): the conversions safetensors files need.
float halfToFloat(uint16_t h);
float bfloat16ToFloat(uint16_t b);
uint16_t floatToHalf(float f);
uint16_t floatToBfloat16(float f);

}  // namespace studio
