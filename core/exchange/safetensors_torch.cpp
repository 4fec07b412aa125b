#include "core/exchange/safetensors_torch.h"

#include <torch/torch.h>

#include "core/base/error.h"

namespace studio {
namespace {

struct DtypePair {
  const char* name;
  torch::ScalarType type;
};
const DtypePair kPairs[] = {{"F64", torch::kFloat64},       {"F32", torch::kFloat32},     {"F16", torch::kFloat16},
                            {"BF16", torch::kBFloat16},     {"I64", torch::kInt64},       {"I32", torch::kInt32},
                            {"I16", torch::kInt16},         {"I8", torch::kInt8},         {"U8", torch::kUInt8},
                            {"U16", torch::kUInt16},        {"U32", torch::kUInt32},      {"U64", torch::kUInt64},
                            {"BOOL", torch::kBool},         {"F8_E4M3", torch::kFloat8_e4m3fn},
                            {"F8_E5M2", torch::kFloat8_e5m2}};

}  // namespace

torch::Tensor safetensorsTensor(const SafetensorsFile& file, const SafetensorsEntry& entry) {
  for (const auto& p : kPairs) {
    if (entry.dtype != p.name) continue;
    auto t = torch::empty(entry.shape, torch::TensorOptions().dtype(p.type));
    if (entry.end > entry.begin) std::memcpy(t.data_ptr(), file.data(entry), entry.end - entry.begin);
    return t;
  }
  throwBadInput(file.source() + ": tensor \"" + entry.name + "\" has dtype " + entry.dtype + ", which torch cannot hold");
}

NamedTensors readSafetensorsTensors(const std::string& path, std::map<std::string, std::string>* metadata) {
  const SafetensorsFile file = SafetensorsFile::read(path);
  NamedTensors out;
  for (const auto& e : file.entries()) out.emplace_back(e.name, safetensorsTensor(file, e));
  if (metadata) *metadata = file.metadata();
  return out;
}

std::string safetensorsDtypeOf(torch::ScalarType type) {
  for (const auto& p : kPairs)
    if (p.type == type) return p.name;
  throwBadInput(std::string("safetensors has no dtype for torch's ") + c10::toString(type));
}

void writeSafetensorsTensors(const std::string& path, const NamedTensors& tensors,
                             const std::map<std::string, std::string>& metadata) {
  SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) {
    const auto t = tensor.detach().to(torch::kCPU).contiguous();
    writer.add(name, safetensorsDtypeOf(t.scalar_type()), t.sizes().vec(), t.data_ptr(), t.nbytes());
  }
  for (const auto& [k, v] : metadata) writer.setMetadata(k, v);
  writer.write(path);
}

}  // namespace studio
