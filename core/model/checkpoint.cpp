#include "core/model/checkpoint.h"

#include <torch/torch.h>

#include <filesystem>

#include "core/base/error.h"
#include "core/base/file_io.h"

namespace fs = std::filesystem;

namespace studio {
namespace {

constexpr int64_t kFormatVersion = 1;

std::string readString(torch::serialize::InputArchive& archive, const char* key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toStringRef();
}

torch::serialize::InputArchive openArchive(const std::string& path) {
  if (!fs::exists(path)) throwBadInput(path + ": checkpoint not found");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error&) {
    throwBadInput(path + ": not a readable checkpoint (truncated or corrupt file)");
  }
  return archive;
}

CheckpointInfo readInfo(torch::serialize::InputArchive& archive, const std::string& path) {
  CheckpointInfo info;
  try {
    torch::Tensor version, step, best;
    archive.read("format_version", version);
    if (version.item<int64_t>() != kFormatVersion)
      throwBadInput(path + ": checkpoint format " + std::to_string(version.item<int64_t>()) + ", this studio reads " +
                    std::to_string(kFormatVersion));
    archive.read("step", step);
    archive.read("best_knn", best);
    info.step = step.item<int64_t>();
    info.best_knn = best.item<double>();
    info.config_json = readString(archive, "config");
    info.signature = readString(archive, "signature");
  } catch (const c10::Error&) {
    throwBadInput(path + ": not a Contrastive Studio checkpoint (metadata missing)");
  }
  return info;
}

// Names the first parameter whose shape differs, for a message a person can act on.
std::string firstDifference(const std::string& a, const std::string& b) {
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] == ';') {
        parts.push_back(s.substr(start, i - start));
        start = i + 1;
      }
    return parts;
  };
  const auto pa = split(a), pb = split(b);
  for (size_t i = 0; i < std::min(pa.size(), pb.size()); ++i)
    if (pa[i] != pb[i]) return "checkpoint has " + pa[i] + ", model has " + pb[i];
  return "checkpoint has " + std::to_string(pa.size()) + " tensors, model has " + std::to_string(pb.size());
}

}  // namespace

void saveCheckpoint(const std::string& path, ContrastiveModel& model, const TrainingOptimizer* optimizer,
                    const CheckpointInfo& info) {
  torch::serialize::OutputArchive archive;
  archive.write("format_version", torch::tensor(kFormatVersion));
  archive.write("step", torch::tensor(info.step));
  archive.write("best_knn", torch::tensor(info.best_knn, torch::kFloat64));
  archive.write("config", c10::IValue(info.config_json));
  archive.write("signature", c10::IValue(modelSignature(*model)));
  archive.write("rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  torch::serialize::OutputArchive model_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  fs::create_directories(fs::path(path).parent_path());
  try {
    writeFileAtomically(path, [&](std::ostream& out) { archive.save_to(out); });
  } catch (const c10::Error& e) {
    throwFailure(path + ": checkpoint could not be written (" + e.what_without_backtrace() + ")");
  }
}

CheckpointInfo readCheckpointInfo(const std::string& path) {
  auto archive = openArchive(path);
  return readInfo(archive, path);
}

CheckpointInfo loadCheckpoint(const std::string& path, ContrastiveModel& model, TrainingOptimizer* optimizer) {
  auto archive = openArchive(path);
  CheckpointInfo info = readInfo(archive, path);
  const std::string expected = modelSignature(*model);
  if (info.signature != expected)
    throwBadInput(path + ": checkpoint is from a different model (" + firstDifference(info.signature, expected) + ")");
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    model->load(model_archive);
    if (optimizer) {
      torch::serialize::InputArchive optimizer_archive;
      archive.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
    }
    torch::Tensor rng;
    if (archive.try_read("rng_cpu", rng)) {
      at::Generator cpu_generator = at::detail::getDefaultCPUGenerator();  // shares the global state
      cpu_generator.set_state(rng);
    }
  } catch (const c10::Error& e) {
    throwBadInput(path + ": checkpoint could not be loaded (" + std::string(e.what_without_backtrace()) + ")");
  }
  return info;
}

}  // namespace studio
