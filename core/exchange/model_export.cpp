#include "core/exchange/model_export.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "core/augment/augment.h"
#include "core/model/checkpoint.h"
#include "core/data/dataset.h"
#include "core/base/error.h"
#include "core/device/torch_state.h"
#include "core/base/file_io.h"
#include "core/exchange/model_card.h"
#include "core/methods/methods.h"
#include "core/model/models.h"
#include "core/data/packed_dataset.h"
#include "core/exchange/safetensors_torch.h"
#include "core/version.h"

extern char** environ;

namespace fs = std::filesystem;

namespace studio {
namespace {

using Json = nlohmann::json;

constexpr const char* kExporterName = "contrastive-onnx-export";

// Runs argv[0] with the arguments, stdout and stderr into one text; returns the exit code
// (-1 when it could not start or died of a signal). posix_spawn, not fork: this process
// has LibTorch's (and maybe Qt's) threads.
int runProcess(const std::vector<std::string>& argv, std::string& output) {
  std::error_code ec;
  std::string log_path = (fs::temp_directory_path(ec) / "studio-export-XXXXXX").string();
  if (ec) log_path = "/tmp/studio-export-XXXXXX";
  std::vector<char> log_template(log_path.begin(), log_path.end());
  log_template.push_back('\0');
  const int log_fd = ::mkstemp(log_template.data());
  if (log_fd < 0) throwFailure("cannot create a temporary file for the exporter's output (" + log_path + ")");
  ::close(log_fd);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_template.data(), O_WRONLY | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  int status = 0;
  if (spawned == 0) {
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  try {
    output = readTextFile(log_template.data());
  } catch (const Error&) {
    output.clear();
  }
  ::unlink(log_template.data());
  if (spawned != 0) {
    output = argv[0] + ": cannot be started (" + std::string(std::strerror(spawned)) + ")";
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string datasetContentHash(const DatasetSplits& data) {
  uint64_t h = kFnv1aOffsetBasis;
  for (const Dataset* d : {&data.train, &data.eval}) {
    if (d->size() == 0) continue;
    const auto pixels = d->images.contiguous();
    h = fnv1a64(h, pixels.data_ptr<uint8_t>(), static_cast<size_t>(pixels.numel()));
  }
  for (const Dataset* d : {&data.train, &data.eval}) {
    if (d->size() == 0) continue;
    const auto labels = d->labels.to(torch::kInt32).contiguous();  // little-endian hosts only (safetensors.cpp says so)
    h = fnv1a64(h, reinterpret_cast<const uint8_t*>(labels.data_ptr<int32_t>()), static_cast<size_t>(labels.numel()) * 4);
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string executableDir() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : self.parent_path().string();
}

bool isExecutable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

}  // namespace

std::string findOnnxExporter() {
  if (const char* env = std::getenv("STUDIO_ONNX_EXPORTER"); env && *env) return isExecutable(env) ? env : std::string();
  const std::string dir = executableDir();
  if (!dir.empty()) {
    for (const fs::path& candidate : {fs::path(dir) / kExporterName, fs::path(dir).parent_path() / kExporterName})
      if (isExecutable(candidate)) return candidate.string();
  }
  if (const char* path = std::getenv("PATH")) {
    std::string all = path;
    size_t start = 0;
    while (start <= all.size()) {
      const size_t colon = all.find(':', start);
      const std::string part = all.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
      if (!part.empty() && isExecutable(fs::path(part) / kExporterName)) return (fs::path(part) / kExporterName).string();
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
  }
  return {};
}

ExportResult exportModel(const RunFolder& run, const ExportOptions& options, const ExportProgress& progress) {
  if (options.format != "safetensors" && options.format != "onnx")
    throwBadInput("export format \"" + options.format + "\": expected safetensors or onnx");
  if (options.model != "encoder" && options.model != "classifier")
    throwBadInput("export model \"" + options.model + "\": expected encoder or classifier");
  if (options.onnx_opset != 17)
    throwBadInput("ONNX opset " + std::to_string(options.onnx_opset) + ": this studio writes opset 17");
  auto report = [&](double done, const std::string& stage) {
    if (progress && !progress(done, stage)) throw Error(ErrorKind::Cancelled, "export cancelled; nothing was written");
  };
  std::string exporter;
  if (options.format == "onnx") {
    exporter = options.onnx_exporter.empty() ? findOnnxExporter() : options.onnx_exporter;
    if (exporter.empty() || !isExecutable(exporter))
      throwBadInput(std::string(kExporterName) + " was not found" +
                    (exporter.empty() ? std::string() : " at " + exporter) +
                    " (it is built with the studio when Debian's libonnx-dev is installed: ./studio setup; "
                    "or set STUDIO_ONNX_EXPORTER)");
  }

  report(0.0, "reading the run");
  ExperimentConfig config = loadExperimentConfig(run.configPath());
  const bool classifier = options.model == "classifier";
  if (!classifier && !run.hasCheckpoint()) throwBadInput(run.path() + ": the run has no checkpoint to export yet");
  if (classifier && !fs::exists(run.classifierPath()))
    throwBadInput(run.path() + ": the run has no fine-tuned classifier (run contrastive-cli finetune first)");

  const DatasetSplits data = loadDataset(config.dataset, config.train.seed);
  if (config.augment.mean.empty()) channelStats(data.train, config.augment.mean, config.augment.std);
  const Augmenter augmenter(config.augment, data.train.channels(), data.train.height(), data.train.width());
  const int64_t side = augmenter.outSize();
  report(0.2, "loading the weights");

  torch::NoGradGuard no_grad;
  ScopedTorchState torch_state;  // the seed for the model's construction, put back after the export
  torch_state.seed(config.train.seed);
  ContrastiveModel model = makeContrastiveModel(config.model, config.method, data.train.channels(), side);
  Json arch = model->backbone().architecture();
  NamedTensors tensors;
  int64_t step = 0;
  std::vector<std::string> class_names = data.train.class_names;
  if (!classifier) {
    step = loadCheckpoint(run.checkpointPath(), model, nullptr).step;
    tensors = exchangeTensors(model->backbone());
  } else {
    std::map<std::string, std::string> meta;
    tensors = readSafetensorsTensors(run.classifierPath(), &meta);
    if (meta.count("studio_architecture")) {
      try {
        const Json saved = Json::parse(meta["studio_architecture"]);
        arch["num_classes"] = saved.at("num_classes");
        if (saved.contains("class_names")) class_names = saved["class_names"].get<std::vector<std::string>>();
      } catch (const std::exception&) {
        throwBadInput(run.classifierPath() + ": its studio_architecture metadata is unreadable");
      }
    }
    if (!arch.contains("num_classes")) throwBadInput(run.classifierPath() + ": no classifier metadata (num_classes)");
    if (run.hasCheckpoint()) step = readCheckpointInfo(run.checkpointPath()).step;  // the encoder it was tuned from
  }
  arch["image_size"] = side;
  arch["input"] = {{"name", "images"},
                   {"layout", "NCHW"},
                   {"dtype", "float32"},
                   {"channels", data.train.channels()},
                   {"height", side},
                   {"width", side},
                   {"scale", "pixel / 255"},
                   {"mean", config.augment.mean},
                   {"std", config.augment.std},
                   {"formula", "(pixel / 255 - mean[c]) / std[c]"}};
  arch["outputs"] = classifier ? Json::array({"features", "logits"}) : Json::array({"features"});
  if (classifier) arch["class_names"] = class_names;
  arch["studio_version"] = STUDIO_VERSION;

  const std::string out_dir = options.out_dir.empty() ? run.path() + "/export-" + options.format : options.out_dir;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throwFailure(out_dir + ": cannot create the export folder (" + ec.message() + ")");
  const std::string stem = options.model;  // encoder.* or classifier.*
  const std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                       {"studio_version", STUDIO_VERSION},
                                                       {"studio_run", run.id()},
                                                       {"studio_step", std::to_string(step)},
                                                       {"studio_architecture", arch.dump()}};
  ExportResult result;
  const std::string arch_path = out_dir + "/architecture.json";
  writeFileAtomically(arch_path, arch.dump(2) + "\n");
  report(0.4, options.format == "onnx" ? "building the ONNX graph" : "writing the weights");
  if (options.format == "safetensors") {
    result.model_path = out_dir + "/" + stem + ".safetensors";
    writeSafetensorsTensors(result.model_path, tensors, metadata);
  } else {
    const std::string weights = out_dir + "/." + stem + "-weights-" + std::to_string(::getpid()) + ".safetensors";
    writeSafetensorsTensors(weights, tensors, metadata);
    result.model_path = out_dir + "/" + stem + ".onnx";
    std::string output;
    const int code = runProcess({exporter, "--weights", weights, "--architecture", arch_path, "--out", result.model_path,
                                 "--opset", std::to_string(options.onnx_opset)},
                                output);
    fs::remove(weights, ec);
    while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
    std::replace(output.begin(), output.end(), '\n', ' ');  // one-line messages for the CLI and the GUI
    if (code != 0) {
      const std::string message = "ONNX export failed (" + exporter + " exit code " + std::to_string(code) + "): " + output;
      if (code == 2) throwBadInput(message);
      throwFailure(message);
    }
  }
  report(0.8, "writing the model card");

  ModelCardInput card_in;
  card_in.run = &run;
  card_in.config = config;
  card_in.model_kind = options.model;
  card_in.format = options.format;
  card_in.files = {fs::path(result.model_path).filename().string(), "architecture.json", "model_card.json", "model_card.md"};
  card_in.architecture = arch;
  card_in.train_images = data.train.size();
  card_in.held_out_images = data.eval.size();
  card_in.class_names = class_names;
  card_in.content_hash = datasetContentHash(data);
  card_in.licence = options.licence;
  card_in.step = step;
  result.card = buildModelCard(card_in);
  writeFileAtomically(out_dir + "/model_card.json", result.card.dump(2) + "\n");
  writeFileAtomically(out_dir + "/model_card.md", modelCardMarkdown(result.card));
  result.files = {result.model_path, arch_path, out_dir + "/model_card.json", out_dir + "/model_card.md"};
  report(1.0, "done");
  return result;
}

}  // namespace studio
