// contrastive-cli: the headless client of the engine. Exit codes: 0 success, 1 the
// engine failed, 2 bad input (arguments, config, data, run), 130 interrupted (the run
// is checkpointed and can be resumed).
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/progress_printer.h"
#include "core/experiment/config.h"
#include "core/base/crash_report.h"
#include "core/data/dataset.h"
#include "core/device/device.h"
#include "gpu/register_kernels.h"
#include "core/eval/duplicate_scan.h"
#include "core/exchange/embedding_export.h"
#include "core/base/error.h"
#include "core/base/text_format.h"
#include "core/eval/evaluation.h"
#include "core/eval/knn.h"
#include "core/exchange/model_export.h"
#include "core/eval/neighbour_graph.h"
#include "core/base/npy.h"
#include "core/runs/run_folder.h"
#include "core/runs/run_embeddings.h"
#include "core/runs/run_index.h"
#include "core/eval/run_study.h"
#include "core/eval/supervised.h"
#include "core/train/trainer.h"
#include "core/eval/tsne.h"
#include "core/version.h"
#include "core/exchange/weight_import.h"
#ifdef STUDIO_HAVE_IMPORTER
#include "app/importer/image_folder_importer.h"
#endif

namespace {

using studio::Error;
using studio::ErrorKind;
using Json = nlohmann::json;

constexpr int kExitOk = 0, kExitFailure = 1, kExitBadInput = 2, kExitInterrupted = 130;

std::atomic<bool> g_interrupted{false};
void onSignal(int) { g_interrupted.store(true); }

const char* kUsage = R"(Usage: contrastive-cli COMMAND [options]

Commands:
  train --config FILE [--set key=value ...]   pretrain a new run (SimCLR)
  resume RUN                                  continue a run from its last checkpoint
  eval RUN [--k K] [--bank N] [--queries N]   kNN top-1 of a run's encoder (0 = all images)
  import FOLDER --out FILE [--size N] [--fit crop|letterbox] [--gray]
                                              image folder -> packed dataset (.csds)
  runs [--rebuild]                            list runs (--rebuild re-reads the run folders)
  probe RUN [--labels 1%,10%,100%] [--seeds N] [--arms probe,scratch,finetune,...]
        [--supervised-epochs N]
        [--classifiers linear,knn] [--bank N] [--queries N] [--k K]
                                              label-efficiency study: each arm with few labels, mean and
                                              spread over seeds, per-class accuracy, confusion, ECE.
                                              arms: probe (= pretrained,random-init,raw-pixels frozen,
                                              with each classifier), scratch (the architecture trained
                                              supervised), finetune (the pretrained encoder fine-tuned);
                                              default probe,scratch (label_efficiency.json/.csv/.svg
                                              in the run)
  tsne RUN|--input X.npy [--perplexity P] [--iterations N] [--method auto|exact|bh|fft]
        [--neighbours auto|exact|approx] [--threads N] [--seed S] [--rows N] [--out FILE] [--no-quality]
                                              2-D map of the run's embeddings (tsne.csv in the run)
  tsne-quality --input X.npy --layouts A.csv,B.npy   exact KL and 10-NN preservation of layouts
  knn-recall --input X.npy [--k 90] [--rows N] [--threads N]
                                              recall of t-SNE's approximate kNN graph against the exact one
  neighbours RUN --image I [--k K]            most similar held-out images to image I
  duplicates RUN [--threshold T] [--max-pairs N]  near-duplicates in the training bank and leaks into
                                              the held-out split (cosine >= T, default 0.98)
  export RUN --format npy|tsv [--out DIR] [--bank N --queries N]
                                              embeddings as .npy, or TSV + metadata + sprite.png +
                                              projector_config.pbtxt for TensorBoard's Projector;
                                              --bank/--queries re-embed that many images (0 = all)
  export RUN --format safetensors|onnx [--model encoder|classifier] [--licence TEXT] [--out DIR]
                                              the encoder (or the fine-tuned classifier) with torchvision's
                                              names, or as ONNX (opset 17), with a model card
  finetune RUN [--labels 10%] [--epochs N] [--patience N] [--batch N] [--epoch-samples N] [--lr X]
               [--backbone-lr-mult X] [--freeze-stages N] [--seed N] [--scratch] [--no-augment]
               [--no-probe-init] [--queries N]
                                              supervised fine-tuning with a share of the labels: encoder +
                                              linear head, early stopping (RUN/finetune/)
  match-weights FILE --config EXP [--set key=value ...]
                                              how a run folder, checkpoint or .safetensors file fits the
                                              experiment's encoder (what model.init_from would load)
  info                                        version, LibTorch, CPU threads, CUDA support and devices

Options for every command:
  --runs-dir DIR   where runs live (default: $STUDIO_RUNS_DIR or ~/.local/share/contrastive-studio/runs)
  --device D       auto | cpu | cuda | cuda:N (train, resume, eval, probe, finetune, tsne, duplicates, export)
  --json           machine-readable output, one JSON object per line
  --version, --help

Exit codes: 0 success, 1 failure, 2 bad input, 130 interrupted (resumable).
)";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --key value
  std::vector<std::string> sets;               // --set key=value, in order
  bool json = false, gray = false, rebuild = false, no_quality = false, scratch = false, no_augment = false,
       no_probe_init = false;
};

Args parseArgs(int argc, char** argv) {
  Args a;
  static const std::vector<std::string> kValued = {
      "--config", "--runs-dir", "--out",   "--size",       "--fit",        "--k",         "--bank",
      "--queries", "--device",  "--labels", "--seeds", "--perplexity", "--iterations", "--image", "--threshold", "--format",
      "--input", "--labels-file", "--rows", "--method", "--neighbours", "--threads", "--seed", "--layouts", "--arms", "--classifiers", "--max-pairs",
      "--model", "--licence", "--epochs", "--patience", "--batch", "--lr", "--backbone-lr-mult", "--freeze-stages",
      "--supervised-epochs", "--epoch-samples"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--gray") {
      a.gray = true;
    } else if (arg == "--rebuild") {
      a.rebuild = true;
    } else if (arg == "--no-quality") {
      a.no_quality = true;
    } else if (arg == "--scratch") {
      a.scratch = true;
    } else if (arg == "--no-augment") {
      a.no_augment = true;
    } else if (arg == "--no-probe-init") {
      a.no_probe_init = true;
    } else if (arg == "--set") {
      if (i + 1 >= argc) studio::throwBadInput("--set needs key=value");
      a.sets.push_back(argv[++i]);
    } else if (std::find(kValued.begin(), kValued.end(), arg) != kValued.end()) {
      if (i + 1 >= argc) studio::throwBadInput(arg + " needs a value");
      a.options[arg] = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      studio::throwBadInput("unknown option " + arg + " (see --help)");
    } else if (a.command.empty()) {
      a.command = arg;
    } else {
      a.positional.push_back(arg);
    }
  }
  return a;
}

std::string option(const Args& a, const std::string& key, const std::string& fallback = "") {
  auto it = a.options.find(key);
  return it == a.options.end() ? fallback : it->second;
}

int64_t intOption(const Args& a, const std::string& key, int64_t fallback, int64_t lo, int64_t hi) {
  const std::string v = option(a, key);
  if (v.empty()) return fallback;
  size_t used = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || x < lo || x > hi)
    studio::throwBadInput(key + " = \"" + v + "\": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

void needPositional(const Args& a, size_t n, const char* what) {
  if (a.positional.size() != n) studio::throwBadInput(a.command + " expects " + what + " (see --help)");
}

std::string runsDir(const Args& a) { return option(a, "--runs-dir", studio::defaultRunsDir()); }

void printJson(const Json& j) { std::printf("%s\n", j.dump(-1, ' ', false, Json::error_handler_t::replace).c_str()); }

int reportOutcome(const Args& a, const studio::TrainOutcome& o) {
  if (a.json) {
    Json j = {{"kind", "result"},       {"status", o.status},         {"run_dir", o.run_dir},
              {"steps", o.steps},       {"best_knn_top1", o.best_knn}, {"final_knn_top1", o.final_knn},
              {"raw_pixel_knn_top1", o.raw_pixel_knn}, {"seconds", o.seconds}};
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("%s after %lld steps in %s. Run folder: %s\n", o.status == "finished" ? "Finished" : "Stopped",
                static_cast<long long>(o.steps), studio::formatDuration(o.seconds).c_str(), o.run_dir.c_str());
    if (o.final_knn >= 0)
      std::printf("kNN top-1: %.2f%% (best %.2f%%); raw pixels: %.2f%%\n", 100 * o.final_knn, 100 * o.best_knn,
                  100 * o.raw_pixel_knn);
    if (o.status != "finished")
      std::printf("Resume with: contrastive-cli resume %s\n", o.run_dir.c_str());
  }
  return o.status == "finished" ? kExitOk : kExitInterrupted;
}

int runTrainer(const Args& a, studio::Trainer& trainer) {
  studio::cli::ProgressPrinter printer(studio::cli::ProgressPrinter::detect(a.json));
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  const auto outcome = trainer.run([&](const studio::MetricsRecord& r) {
    printer.onRecord(r);
    return !g_interrupted.load();
  });
  printer.finish();
  return reportOutcome(a, outcome);
}

// The experiment of --config FILE with the --set overrides (and --device) applied.
studio::ExperimentConfig configFromArgs(const Args& a) {
  const std::string path = option(a, "--config");
  if (path.empty()) studio::throwBadInput(a.command + " needs --config FILE (presets are in resources/presets/)");
  Json json;
  try {
    json = Json::parse(studio::readTextFile(path));
  } catch (const Json::parse_error& e) {
    studio::throwBadInput(path + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  for (const auto& s : a.sets) studio::applyConfigOverride(json, s);
  if (a.options.count("--device")) json["train"]["device"] = option(a, "--device");
  studio::ExperimentConfig config;
  try {
    config = studio::ExperimentConfig::fromJson(json);
  } catch (const Error& e) {
    throw Error(e.kind(), path + ": " + e.what());
  }
  return config;
}

int cmdTrain(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  studio::Trainer trainer(configFromArgs(a), runsDir(a));
  return runTrainer(a, trainer);
}

// What model.init_from would give the experiment's encoder, without training.
int cmdMatchWeights(const Args& a) {
  needPositional(a, 1, "a run folder, checkpoint or .safetensors file");
  studio::ExperimentConfig config = configFromArgs(a);
  config.model.init_from = a.positional[0];
  const studio::WeightMatchReport report = studio::inspectInitWeights(config);
  if (a.json) printJson(report.toJson());
  else std::printf("%s\n%s\n", report.source.c_str(), report.describe().c_str());
  return kExitOk;
}

int cmdResume(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  studio::Trainer trainer(studio::RunFolder::open(runsDir(a), a.positional[0]));
  return runTrainer(a, trainer);
}

int cmdEval(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const auto r = studio::evaluateRun(folder, intOption(a, "--k", 0, 0, 100000), intOption(a, "--bank", 0, 0, int64_t(1) << 40),
                                     intOption(a, "--queries", 0, 0, int64_t(1) << 40), option(a, "--device", "auto"));
  if (a.json) {
    std::printf("%s\n", Json({{"run", folder.id()}, {"step", r.step}, {"knn_top1", r.knn_top1},
                              {"raw_pixel_knn_top1", r.raw_pixel_knn_top1}, {"k", r.k}, {"bank_size", r.bank_size},
                              {"query_size", r.query_size}})
                            .dump()
                            .c_str());
  } else {
    std::printf("%s (step %lld): kNN top-1 %.2f%%, raw pixels %.2f%% (k=%lld, bank %lld, queries %lld)\n", folder.id().c_str(),
                static_cast<long long>(r.step), 100 * r.knn_top1, 100 * r.raw_pixel_knn_top1, static_cast<long long>(r.k),
                static_cast<long long>(r.bank_size), static_cast<long long>(r.query_size));
  }
  return kExitOk;
}

int cmdImport(const Args& a) {
  needPositional(a, 1, "an image folder");
#ifdef STUDIO_HAVE_IMPORTER
  const std::string out = option(a, "--out");
  if (out.empty()) studio::throwBadInput("import needs --out FILE");
  studio::ImportOptions o;
  o.size = static_cast<int>(intOption(a, "--size", 32, 8, 1024));
  const std::string fit = option(a, "--fit", "crop");
  if (fit != "crop" && fit != "letterbox") studio::throwBadInput("--fit = \"" + fit + "\": expected crop or letterbox");
  o.fit = fit == "crop" ? studio::ImportOptions::Fit::CenterCrop : studio::ImportOptions::Fit::Letterbox;
  o.channels = a.gray ? 1 : 3;
  studio::cli::ProgressPrinter::Mode mode = studio::cli::ProgressPrinter::detect(a.json);
  std::signal(SIGINT, onSignal);
  o.progress = [&](int64_t done, int64_t total) {
    if (mode == studio::cli::ProgressPrinter::Mode::Bar) {
      std::fprintf(stdout, "\rimporting %lld/%lld", static_cast<long long>(done), static_cast<long long>(total));
      std::fflush(stdout);
    }
    return !g_interrupted.load();
  };
  const auto report = studio::importImageFolder(a.positional[0], out, o);
  if (mode == studio::cli::ProgressPrinter::Mode::Bar) std::printf("\n");
  if (a.json) {
    Json skipped = Json::array();
    for (const auto& s : report.skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
    std::printf("%s\n", Json({{"output", report.output_path}, {"imported", report.imported}, {"skipped", skipped},
                              {"class_names", report.class_names}})
                            .dump(-1, ' ', false, Json::error_handler_t::replace)
                            .c_str());
  } else {
    std::printf("Imported %lld images (%zu classes) into %s; skipped %zu files\n", static_cast<long long>(report.imported),
                report.class_names.size(), report.output_path.c_str(), report.skipped.size());
    for (const auto& s : report.skipped) std::printf("  skipped %s: %s\n", s.path.c_str(), s.reason.c_str());
  }
  return kExitOk;
#else
  studio::throwBadInput("import: this build has no image importer (it was built without OpenCV)");
#endif
}

int cmdRuns(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  studio::RunIndex index(runsDir(a));
  if (a.rebuild) index.rebuildFromFolders();
  const auto runs = index.list();
  if (a.json) {
    Json list = Json::array();
    for (const auto& r : runs)
      list.push_back({{"id", r.id},
                      {"name", r.name},
                      {"dataset", r.dataset},
                      {"method", r.method},
                      {"status", r.status},
                      {"started_at", r.started_at},
                      {"ended_at", r.ended_at},
                      {"best_knn_top1", r.best_knn < 0 ? Json(nullptr) : Json(r.best_knn)},
                      {"path", r.path}});
    std::printf("%s\n", list.dump().c_str());
    return kExitOk;
  }
  if (runs.empty()) {
    std::printf("No runs in %s\n", index.runsDir().c_str());
    return kExitOk;
  }
  std::printf("%-40s %-12s %-16s %-8s %-8s %s\n", "ID", "STATUS", "DATASET", "METHOD", "BEST kNN", "STARTED");
  for (const auto& r : runs) {
    char knn[16] = "-";
    if (r.best_knn >= 0) std::snprintf(knn, sizeof knn, "%.2f%%", 100 * r.best_knn);
    std::printf("%-40s %-12s %-16s %-8s %-8s %s\n", r.id.c_str(), r.status.c_str(), r.dataset.substr(0, 16).c_str(),
                r.method.c_str(), knn, r.started_at.c_str());
  }
  return kExitOk;
}

double doubleOption(const Args& a, const std::string& key, double fallback, double lo, double hi) {
  const std::string v = option(a, key);
  if (v.empty()) return fallback;
  size_t used = 0;
  double x = 0;
  try {
    x = std::stod(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != v.size() || !(x >= lo && x <= hi))
    studio::throwBadInput(key + " = \"" + v + "\": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return x;
}

// "1%,10%,100%" (or "0.01,0.1,1") -> fractions in (0, 1].
std::vector<double> parseFractions(const std::string& text) {
  std::vector<double> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const bool percent = !part.empty() && part.back() == '%';
    if (percent) part.pop_back();
    size_t used = 0;
    double v = -1;
    try {
      v = std::stod(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (percent) v /= 100.0;
    if (part.empty() || used != part.size() || !(v > 0 && v <= 1))
      studio::throwBadInput("--labels = \"" + text + "\": expected fractions like 1%,10%,100% (each in (0%, 100%])");
    out.push_back(v);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string percentText(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, fraction >= 0.1 ? "%.0f%%" : "%.1f%%", 100 * fraction);
  return buf;
}

// The run's probe-set embeddings and labels as written at the end of training.
std::pair<torch::Tensor, torch::Tensor> readRunEmbeddings(const studio::RunFolder& folder) {
  if (!std::filesystem::exists(folder.embeddingsPath()))
    studio::throwBadInput(folder.path() + ": the run has no embeddings.npy yet (it is written when training finishes)");
  const auto e = studio::readNpy(folder.embeddingsPath());
  const auto l = studio::readNpy(folder.embeddingLabelsPath());
  if (e.dtype != "<f4" || e.shape.size() != 2 || l.dtype != "<i8" || l.shape.size() != 1 || l.shape[0] != e.shape[0])
    studio::throwBadInput(folder.embeddingsPath() + ": expected float32 [N, D] embeddings with int64 [N] labels");
  auto features = torch::from_blob(const_cast<uint8_t*>(e.bytes.data()), {e.shape[0], e.shape[1]}, torch::kFloat32).clone();
  auto labels = torch::from_blob(const_cast<uint8_t*>(l.bytes.data()), {l.shape[0]}, torch::kInt64).clone();
  return {features, labels};
}

// Supervised fine-tuning options shared by finetune and probe's supervised arms.
studio::FinetuneOptions finetuneOptions(const Args& a, int64_t default_epochs) {
  studio::FinetuneOptions o;
  o.max_epochs = intOption(a, a.command == "probe" ? "--supervised-epochs" : "--epochs", default_epochs, 1, 100000);
  o.patience = intOption(a, "--patience", o.patience, 1, 100000);
  o.batch_size = intOption(a, "--batch", o.batch_size, 2, 65536);
  o.min_epoch_samples = intOption(a, "--epoch-samples", o.min_epoch_samples, 0, int64_t(1) << 40);
  o.lr = doubleOption(a, "--lr", o.lr, 1e-7, 10.0);
  o.backbone_lr_mult = doubleOption(a, "--backbone-lr-mult", o.backbone_lr_mult, 0.0, 100.0);
  o.freeze_stages = intOption(a, "--freeze-stages", 0, 0, 5);
  o.augment = !a.no_augment;
  o.probe_init_head = !a.no_probe_init;
  return o;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string part; std::getline(in, part, ',');)
    if (!part.empty()) out.push_back(part);
  return out;
}

// Per-class accuracy of every arm at the largest label fraction, and the confusion matrix of
// the first arm there: where a class is under-represented or confused, it shows.
void printClassReport(const studio::StudyResult& r) {
  if (r.cells.empty()) return;
  double largest = 0;
  for (const auto& c : r.cells) largest = std::max(largest, c.label_fraction);
  std::vector<const studio::StudyCell*> at;
  for (const auto& c : r.cells)
    if (c.label_fraction == largest) at.push_back(&c);
  size_t name_width = 8;
  for (const auto& n : r.class_names) name_width = std::max(name_width, n.size());
  std::printf("\nPer-class test accuracy with %s of the labels (seed 0):\n%-*s", percentText(largest).c_str(),
              static_cast<int>(name_width), "class");
  for (size_t a = 0; a < at.size(); ++a) std::printf("  %8s", ("arm " + std::to_string(a + 1)).c_str());
  std::printf("\n");
  for (size_t k = 0; k < r.class_names.size(); ++k) {
    std::printf("%-*s", static_cast<int>(name_width), r.class_names[k].c_str());
    for (const auto* c : at) {
      const double v = c->per_class_accuracy[k];
      if (v < 0) std::printf("  %8s", "-");
      else std::printf("  %7.2f%%", 100 * v);
    }
    std::printf("\n");
  }
  for (size_t a = 0; a < at.size(); ++a) std::printf("  arm %zu = %s\n", a + 1, at[a]->arm.c_str());
  const auto& first = *at.front();
  const size_t classes = r.class_names.size();
  std::printf("\nConfusion matrix of %s with %s of the labels (rows: true class, columns: predicted):\n",
              first.arm.c_str(), percentText(largest).c_str());
  std::printf("%-*s", static_cast<int>(name_width), "");
  for (size_t j = 0; j < classes; ++j) std::printf(" %6zu", j);
  std::printf("\n");
  for (size_t i = 0; i < classes; ++i) {
    std::printf("%-*s", static_cast<int>(name_width), (std::to_string(i) + " " + r.class_names[i]).substr(0, name_width).c_str());
    for (size_t j = 0; j < classes; ++j) std::printf(" %6lld", static_cast<long long>(first.confusion[i * classes + j]));
    std::printf("\n");
  }
}

int cmdProbe(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  studio::RunStudyOptions o;
  o.fractions = parseFractions(option(a, "--labels", "1%,10%,100%"));
  o.seeds = intOption(a, "--seeds", 3, 1, 100);
  o.bank_size = intOption(a, "--bank", 10000, 0, int64_t(1) << 40);
  o.query_size = intOption(a, "--queries", 10000, 0, int64_t(1) << 40);
  o.device = option(a, "--device", "auto");
  o.knn_k = intOption(a, "--k", 200, 1, 100000);
  // Arms: "probe" = the frozen representations (each with every classifier), "scratch" and
  // "finetune" the supervised ones (core/eval/run_study.h), or representations by name.
  o.representations.clear();
  const auto known = studio::knownStudyRepresentations();
  for (const auto& arm : splitList(option(a, "--arms", "probe,scratch"))) {
    std::vector<std::string> names = {arm};
    if (arm == "probe") names = {"pretrained", "random-init", "raw-pixels"};
    else if (arm == "finetune") names = {"finetuned"};
    for (const auto& n : names) {
      if (std::find(known.begin(), known.end(), n) == known.end())
        studio::throwBadInput("--arms = \"" + option(a, "--arms") + "\": unknown arm \"" + arm +
                              "\" (expected probe, scratch, finetune or pretrained, random-init, raw-pixels, finetuned)");
      if (std::find(o.representations.begin(), o.representations.end(), n) == o.representations.end())
        o.representations.push_back(n);
    }
  }
  o.finetune = finetuneOptions(a, 30);
  if (!option(a, "--classifiers").empty()) {
    o.classifiers.clear();
    for (const auto& c : splitList(option(a, "--classifiers"))) {
      if (c == "linear" || c == "probe" || c == "linear probe") o.classifiers.push_back("linear probe");
      else if (c == "knn" || c == "kNN") o.classifiers.push_back("kNN");
      else studio::throwBadInput("--classifiers: unknown classifier \"" + c + "\" (expected linear and/or knn)");
    }
  }
  std::signal(SIGINT, onSignal);
  const bool bar = !a.json && ::isatty(STDOUT_FILENO);
  const auto result = studio::runRunStudy(folder, o, [&](int64_t done, int64_t total, const std::string& what) {
    if (bar) {
      std::printf("\r\033[K[%lld/%lld] %s", static_cast<long long>(done), static_cast<long long>(total), what.c_str());
      std::fflush(stdout);
    }
    return !g_interrupted.load();
  });
  if (bar) std::printf("\r\033[K");
  const auto files = studio::saveStudy(folder, result);
  if (a.json) {
    Json j = Json::parse(studio::studyToJson(result));
    j["run"] = folder.id();
    j["files"] = files;
    printJson(j);
  } else {
    std::printf("Label efficiency of %s: %lld labelled training images, %lld held-out test images, %lld seed(s)\n\n%s",
                folder.id().c_str(), static_cast<long long>(result.train_images),
                static_cast<long long>(result.test_images), static_cast<long long>(result.seeds),
                studio::studyTable(result).c_str());
    printClassReport(result);
    std::printf("\nWritten: %s, %s, %s\n", files[0].c_str(), files[1].c_str(), files[2].c_str());
  }
  return kExitOk;
}

// A float32 [N, D] matrix from a .npy file (float32 or float64 on disk).
torch::Tensor readFeatureMatrix(const std::string& path) {
  const auto e = studio::readNpy(path);
  if ((e.dtype != "<f4" && e.dtype != "<f8") || e.shape.size() != 2)
    studio::throwBadInput(path + ": expected a float32 or float64 [N, D] array, got dtype " + e.dtype + " with " +
                          std::to_string(e.shape.size()) + " dimensions");
  const auto type = e.dtype == "<f4" ? torch::kFloat32 : torch::kFloat64;
  return torch::from_blob(const_cast<uint8_t*>(e.bytes.data()), {e.shape[0], e.shape[1]}, type).to(torch::kFloat32).clone();
}

torch::Tensor readLabelVector(const std::string& path, int64_t rows) {
  const auto l = studio::readNpy(path);
  if ((l.dtype != "<i8" && l.dtype != "<i4") || l.shape.size() != 1 || l.shape[0] != rows)
    studio::throwBadInput(path + ": expected " + std::to_string(rows) + " int64 or int32 labels");
  const auto type = l.dtype == "<i8" ? torch::kInt64 : torch::kInt32;
  return torch::from_blob(const_cast<uint8_t*>(l.bytes.data()), {rows}, type).to(torch::kInt64).clone();
}

int cmdFinetune(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const auto fractions = parseFractions(option(a, "--labels", "10%"));
  if (fractions.size() != 1) studio::throwBadInput("--labels: finetune takes one share (e.g. 10%), not a list");
  studio::FinetuneOptions o = finetuneOptions(a, 30);
  o.label_fraction = fractions.front();
  o.seed = intOption(a, "--seed", 0, 0, int64_t(1) << 40);
  o.from_pretrained = !a.scratch;
  std::signal(SIGINT, onSignal);
  std::signal(SIGTERM, onSignal);
  const auto r = studio::finetuneRun(folder, o, option(a, "--device", "auto"),
                                     intOption(a, "--queries", 0, 0, int64_t(1) << 40),
                                     [&](const studio::FinetuneProgress& p) {
                                       if (a.json) {
                                         printJson({{"kind", "epoch"}, {"epoch", p.epoch}, {"max_epochs", p.max_epochs},
                                                    {"train_loss", p.train_loss},
                                                    {"validation_top1", p.validation_top1},
                                                    {"best_validation_top1", p.best_validation_top1}});
                                       } else {
                                         char val[32] = "-";
                                         if (p.validation_top1 >= 0) std::snprintf(val, sizeof val, "%.2f%%", 100 * p.validation_top1);
                                         std::printf("epoch %lld/%lld  loss %.4f  validation top-1 %s\n",
                                                     static_cast<long long>(p.epoch), static_cast<long long>(p.max_epochs),
                                                     p.train_loss, val);
                                       }
                                       std::fflush(stdout);
                                       return !g_interrupted.load();
                                     });
  if (a.json) {
    Json j = r.toJson();
    j["kind"] = "result";
    j["run"] = folder.id();
    j["classifier"] = folder.classifierPath();
    j["report"] = folder.finetuneReportPath();
    printJson(j);
  } else {
    std::printf("%s encoder + linear head, %lld labelled images (%s; %lld train, %lld validation), %lld epochs%s:\n",
                r.init == "pretrained" ? "Pretrained" : "Random", static_cast<long long>(r.labeled_images),
                percentText(o.label_fraction).c_str(), static_cast<long long>(r.train_images),
                static_cast<long long>(r.validation_images), static_cast<long long>(r.epochs_run),
                r.stopped_early ? " (stopped early)" : "");
    std::printf("test top-1 %.2f%% on %lld held-out images (best validation %.2f%% at epoch %lld)\n", 100 * r.test_top1,
                static_cast<long long>(r.test_images), 100 * r.best_validation_top1, static_cast<long long>(r.best_epoch));
    std::printf("Written: %s and %s\n", folder.classifierPath().c_str(), folder.finetuneReportPath().c_str());
  }
  return kExitOk;
}

int cmdTsne(const Args& a) {
  // Either a run (its held-out embeddings) or any .npy matrix (--input), e.g. for benchmarks.
  torch::Tensor features, labels;
  std::string source, out;
  if (!option(a, "--input").empty()) {
    needPositional(a, 0, "no run when --input is given");
    source = option(a, "--input");
    features = readFeatureMatrix(source);
    if (!option(a, "--labels-file").empty()) labels = readLabelVector(option(a, "--labels-file"), features.size(0));
    out = option(a, "--out", "tsne.csv");
  } else {
    needPositional(a, 1, "a run id or folder (or --input FILE.npy)");
    const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
    std::tie(features, labels) = readRunEmbeddings(folder);
    source = folder.id();
    out = option(a, "--out", folder.path() + "/tsne.csv");
  }
  const int64_t rows = intOption(a, "--rows", 0, 0, features.size(0));
  if (rows > 0) {
    features = features.slice(0, 0, rows).contiguous();
    if (labels.defined()) labels = labels.slice(0, 0, rows).contiguous();
  }
  studio::TsneOptions o;
  o.perplexity = doubleOption(a, "--perplexity", 30.0, 1.0, 1000.0);
  o.iterations = intOption(a, "--iterations", 750, 1, 100000);
  o.exaggeration_iterations = std::min<int64_t>(o.exaggeration_iterations, o.iterations / 3);
  o.threads = intOption(a, "--threads", 0, 0, 1024);
  o.seed = intOption(a, "--seed", 0, 0, int64_t(1) << 62);
  const std::string method = option(a, "--method", "auto");
  if (method == "auto") o.method = studio::TsneOptions::Method::Auto;
  else if (method == "exact") o.method = studio::TsneOptions::Method::Exact;
  else if (method == "bh") o.method = studio::TsneOptions::Method::BarnesHut;
  else if (method == "fft") o.method = studio::TsneOptions::Method::Fft;
  else studio::throwBadInput("--method = \"" + method + "\": expected auto, exact, bh or fft");
  const std::string neighbours = option(a, "--neighbours", "auto");
  if (neighbours == "auto") o.neighbours = studio::TsneNeighbours::Auto;
  else if (neighbours == "exact") o.neighbours = studio::TsneNeighbours::Exact;
  else if (neighbours == "approx") o.neighbours = studio::TsneNeighbours::Approximate;
  else studio::throwBadInput("--neighbours = \"" + neighbours + "\": expected auto, exact or approx");
  o.device = studio::resolveDevice(option(a, "--device", "auto"), "--device");
  if (o.threads > 0) at::set_num_threads(static_cast<int>(o.threads));
  const auto t0 = std::chrono::steady_clock::now();
  std::signal(SIGINT, onSignal);
  const auto result = studio::runTsne(features, o, {}, [&](const studio::TsneProgress& p) {
    if (!a.json && ::isatty(STDOUT_FILENO)) {
      std::printf("\rt-SNE iteration %lld/%lld  KL %.3f", static_cast<long long>(p.iteration), static_cast<long long>(o.iterations),
                  p.kl_divergence);
      std::fflush(stdout);
    }
    return !g_interrupted.load();
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (result.stopped) throw Error(ErrorKind::Cancelled, "t-SNE interrupted; nothing was written");
  studio::exportLayoutCsv(out, result.layout, labels);
  // The 10-NN score needs an exact search in the embedding space: --no-quality skips it.
  const double preservation = a.no_quality ? -1.0 : studio::neighbourPreservation(features, result.layout, 10);
  const auto used = studio::resolvedTsneMethod(o, features.size(0));
  const char* method_name = used == studio::TsneOptions::Method::Exact       ? "exact"
                            : used == studio::TsneOptions::Method::BarnesHut ? "bh"
                                                                             : "fft";
  if (a.json) {
    printJson({{"source", source}, {"points", features.size(0)}, {"dims", features.size(1)},
               {"method", method_name}, {"device", o.device.str()}, {"kl_divergence", result.kl_divergence},
               {"neighbour_preservation_10", preservation < 0 ? Json(nullptr) : Json(preservation)},
               {"seconds", seconds}, {"csv", out}});
  } else {
    std::printf("\r%lld points (%s) in %.1f s: KL %.4f", static_cast<long long>(features.size(0)), method_name, seconds,
                result.kl_divergence);
    if (preservation >= 0) std::printf(", 10-NN preservation %.3f", preservation);
    std::printf(". Layout: %s\n", out.c_str());
  }
  return kExitOk;
}

// A 2-D layout from a .npy [N, 2] matrix or a layout CSV (index,x,y[,label]).
torch::Tensor readLayout(const std::string& path) {
  if (path.size() > 4 && path.substr(path.size() - 4) == ".npy") {
    auto layout = readFeatureMatrix(path);
    if (layout.size(1) != 2) studio::throwBadInput(path + ": expected an [N, 2] layout, got " + std::to_string(layout.size(1)) + " columns");
    return layout;
  }
  std::istringstream in(studio::readTextFile(path));
  std::string line;
  std::vector<float> xy;
  int64_t row = 0;
  while (std::getline(in, line)) {
    if (row++ == 0 && line.rfind("index,", 0) == 0) continue;  // header
    if (line.empty()) continue;
    std::istringstream fields(line);
    std::string index, x, y;
    if (!std::getline(fields, index, ',') || !std::getline(fields, x, ',') || !std::getline(fields, y, ','))
      studio::throwBadInput(path + ": line " + std::to_string(row) + " is not index,x,y");
    try {
      xy.push_back(std::stof(x));
      xy.push_back(std::stof(y));
    } catch (const std::exception&) {
      studio::throwBadInput(path + ": line " + std::to_string(row) + " has a non-numeric coordinate");
    }
  }
  if (xy.empty()) studio::throwBadInput(path + ": no layout rows");
  return torch::from_blob(xy.data(), {static_cast<int64_t>(xy.size() / 2), 2}, torch::kFloat32).clone();
}

int cmdTsneQuality(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  if (option(a, "--input").empty() || option(a, "--layouts").empty())
    studio::throwBadInput("tsne-quality needs --input X.npy and --layouts A.csv[,B.npy...]");
  const auto features = readFeatureMatrix(option(a, "--input"));
  std::vector<std::string> paths;
  std::istringstream list(option(a, "--layouts"));
  for (std::string p; std::getline(list, p, ',');)
    if (!p.empty()) paths.push_back(p);
  std::vector<torch::Tensor> layouts;
  for (const auto& p : paths) layouts.push_back(readLayout(p));
  const int64_t threads = intOption(a, "--threads", 0, 0, 1024);
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));
  const auto t0 = std::chrono::steady_clock::now();
  const auto quality = studio::exactTsneQuality(features, layouts, doubleOption(a, "--perplexity", 30.0, 1.0, 1000.0),
                                                intOption(a, "--k", 10, 1, 1000), threads);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Json results = Json::array();
  for (size_t i = 0; i < paths.size(); ++i)
    results.push_back({{"layout", paths[i]}, {"kl_divergence", quality[i].kl_divergence},
                       {"neighbour_preservation", quality[i].neighbour_preservation}});
  if (a.json) {
    printJson({{"points", features.size(0)}, {"results", results}, {"seconds", seconds}});
  } else {
    std::printf("Exact quality of %zu layout(s) of %lld points (%.1f s):\n", paths.size(),
                static_cast<long long>(features.size(0)), seconds);
    for (size_t i = 0; i < paths.size(); ++i)
      std::printf("  %s: KL %.4f, %lld-NN preservation %.4f\n", paths[i].c_str(), quality[i].kl_divergence,
                  static_cast<long long>(intOption(a, "--k", 10, 1, 1000)), quality[i].neighbour_preservation);
  }
  return kExitOk;
}

// How well the approximate kNN graph behind t-SNE's affinities (core/eval/neighbour_graph.h) finds
// the exact one on a given matrix, and how long each search takes.
int cmdKnnRecall(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  if (option(a, "--input").empty()) studio::throwBadInput("knn-recall needs --input X.npy");
  auto features = readFeatureMatrix(option(a, "--input"));
  const int64_t rows = intOption(a, "--rows", 0, 0, features.size(0));
  if (rows > 0) features = features.slice(0, 0, rows).contiguous();
  const int64_t k = intOption(a, "--k", 90, 1, features.size(0) - 1);
  const int64_t threads = intOption(a, "--threads", 0, 0, 1024);
  if (threads > 0) at::set_num_threads(static_cast<int>(threads));
  studio::ApproximateNeighbourOptions o;
  o.threads = threads;
  o.seed = intOption(a, "--seed", 0, 0, int64_t(1) << 62);
  const auto t0 = std::chrono::steady_clock::now();
  const auto approximate = studio::approximateNeighbourGraph(features, k, o);
  const auto t1 = std::chrono::steady_clock::now();
  const auto exact = studio::exactNeighbourGraph(features, k);
  const auto t2 = std::chrono::steady_clock::now();
  const double recall = studio::neighbourRecall(approximate.indices, exact.indices);
  const double approximate_s = std::chrono::duration<double>(t1 - t0).count();
  const double exact_s = std::chrono::duration<double>(t2 - t1).count();
  if (a.json) {
    printJson({{"points", features.size(0)}, {"dims", features.size(1)}, {"k", k}, {"recall", recall},
               {"approximate_seconds", approximate_s}, {"exact_seconds", exact_s}});
  } else {
    std::printf("%lld x %lld, k = %lld: recall of the approximate graph %.4f; approximate %.1f s, exact %.1f s\n",
                static_cast<long long>(features.size(0)), static_cast<long long>(features.size(1)),
                static_cast<long long>(k), recall, approximate_s, exact_s);
  }
  return kExitOk;
}

int cmdNeighbours(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  auto [features, labels] = readRunEmbeddings(folder);
  if (option(a, "--image").empty()) studio::throwBadInput("neighbours needs --image I (an index into the run's held-out images)");
  const int64_t image = intOption(a, "--image", 0, 0, features.size(0) - 1);
  const int64_t k = intOption(a, "--k", 10, 1, 1000);
  const auto n = studio::nearestNeighbours(features, features[image], k, image);
  Json list = Json::array();
  for (size_t i = 0; i < n.indices.size(); ++i)
    list.push_back({{"index", n.indices[i]}, {"similarity", n.similarities[i]}, {"label", labels[n.indices[i]].item<int64_t>()}});
  if (a.json) {
    printJson({{"run", folder.id()}, {"image", image}, {"label", labels[image].item<int64_t>()}, {"neighbours", list}});
  } else {
    std::printf("Image %lld (label %lld): %lld nearest held-out images by cosine similarity\n", static_cast<long long>(image),
                static_cast<long long>(labels[image].item<int64_t>()), static_cast<long long>(k));
    for (const auto& e : list)
      std::printf("  %6lld  similarity %.4f  label %lld\n", static_cast<long long>(e["index"].get<int64_t>()),
                  e["similarity"].get<double>(), static_cast<long long>(e["label"].get<int64_t>()));
  }
  return kExitOk;
}

int cmdDuplicates(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const double threshold = doubleOption(a, "--threshold", 0.98, 1e-6, 1.0);
  const int64_t shown = intOption(a, "--max-pairs", 1000, 0, 1000000);
  const auto scan = studio::scanRunForDuplicates(folder, threshold, intOption(a, "--bank", 10000, 0, int64_t(1) << 40),
                                                 intOption(a, "--queries", 10000, 0, int64_t(1) << 40),
                                                 option(a, "--device", "auto"), shown);
  auto pairs = [](const std::vector<studio::ScanPair>& list, const studio::ImageTable& first,
                  const studio::ImageTable& second) {
    Json out = Json::array();
    for (const auto& p : list)
      out.push_back({{"a", p.a}, {"b", p.b}, {"similarity", p.similarity}, {"label_a", first.label(p.a)},
                     {"label_b", second.label(p.b)}});
    return out;
  };
  if (a.json) {
    printJson({{"run", folder.id()}, {"threshold", threshold}, {"step", scan.step}, {"bank_size", scan.train.count},
               {"query_size", scan.test.count},
               {"train_duplicates",
                {{"pairs", scan.duplicate_pairs}, {"images", scan.duplicate_images},
                 {"top", pairs(scan.duplicates, scan.train, scan.train)}}},
               {"train_test_leaks",
                {{"pairs", scan.leak_pairs}, {"images", scan.leak_images}, {"top", pairs(scan.leaks, scan.train, scan.test)}}}});
  } else {
    std::printf("Cosine similarity >= %.3f over %lld training and %lld held-out images:\n", threshold,
                static_cast<long long>(scan.train.count), static_cast<long long>(scan.test.count));
    std::printf("  near-duplicate pairs in training: %lld (%lld images)\n", static_cast<long long>(scan.duplicate_pairs),
                static_cast<long long>(scan.duplicate_images));
    for (size_t i = 0; i < std::min<size_t>(5, scan.duplicates.size()); ++i)
      std::printf("    train %6lld ~ train %6lld  similarity %.4f\n", static_cast<long long>(scan.duplicates[i].a),
                  static_cast<long long>(scan.duplicates[i].b), scan.duplicates[i].similarity);
    std::printf("  train/held-out leak pairs:        %lld (%lld images)\n", static_cast<long long>(scan.leak_pairs),
                static_cast<long long>(scan.leak_images));
    for (size_t i = 0; i < std::min<size_t>(10, scan.leaks.size()); ++i)
      std::printf("    train %6lld ~ held-out %6lld  similarity %.4f\n", static_cast<long long>(scan.leaks[i].a),
                  static_cast<long long>(scan.leaks[i].b), scan.leaks[i].similarity);
  }
  return kExitOk;
}

// A model (safetensors or ONNX) with architecture.json and a model card.
int cmdExportModel(const Args& a, const studio::RunFolder& folder, const std::string& format) {
  studio::ExportOptions o;
  o.format = format;
  o.model = option(a, "--model", "encoder");
  o.licence = option(a, "--licence");
  o.out_dir = option(a, "--out");
  const auto r = studio::exportModel(folder, o);
  if (a.json) {
    printJson({{"run", folder.id()}, {"format", format}, {"model", o.model}, {"path", r.model_path}, {"files", r.files}});
  } else {
    std::printf("Exported the %s of %s as %s:\n", o.model.c_str(), folder.id().c_str(), format.c_str());
    for (const auto& f : r.files) std::printf("  %s\n", f.c_str());
  }
  return kExitOk;
}

int cmdExport(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const std::string format = option(a, "--format");
  if (format == "safetensors" || format == "onnx") return cmdExportModel(a, folder, format);
  if (format != "npy" && format != "tsv")
    studio::throwBadInput("--format = \"" + format + "\": expected npy, tsv, safetensors or onnx");
  const std::string out = option(a, "--out", folder.path() + "/export-" + format);
  std::filesystem::create_directories(out);
  // By default the held-out embeddings written at the end of training; with --bank/--queries
  // the run's encoder embeds that many training and held-out images anew (0 = all of them).
  torch::Tensor features, labels, split, sprite_images;
  if (a.options.count("--bank") || a.options.count("--queries")) {
    const auto e = studio::embedRun(folder, intOption(a, "--bank", 0, 0, int64_t(1) << 40),
                                    intOption(a, "--queries", 0, 0, int64_t(1) << 40), option(a, "--device", "auto"));
    features = torch::cat({e.bank_features, e.query_features});
    labels = torch::cat({e.bank_labels, e.query_labels});
    sprite_images = torch::cat({e.bank_images, e.query_images});
    split = torch::cat({torch::zeros({e.bank_features.size(0)}, torch::kLong), torch::ones({e.query_features.size(0)}, torch::kLong)});
  } else {
    std::tie(features, labels) = readRunEmbeddings(folder);
  }
  std::vector<std::string> files;
  if (format == "npy") {
    const auto f = features.contiguous();
    const auto l = labels.contiguous();
    studio::writeNpy(out + "/embeddings.npy", "<f4", {f.size(0), f.size(1)}, f.data_ptr<float>());
    studio::writeNpy(out + "/labels.npy", "<i8", {l.size(0)}, l.data_ptr<int64_t>());
    files = {out + "/embeddings.npy", out + "/labels.npy"};
    if (split.defined()) {
      studio::writeNpy(out + "/split.npy", "<i8", {split.size(0)}, split.data_ptr<int64_t>());
      files.push_back(out + "/split.npy");
    }
  } else {
    // The sprite shows the very images embedded: re-embedded bank + queries, or the first N
    // held-out images, which is what embeddings.npy holds (the kNN monitor's queries).
    const auto config = studio::loadExperimentConfig(folder.configPath());
    const auto data = studio::loadDataset(config.dataset, config.train.seed);
    torch::Tensor images = sprite_images;
    if (!images.defined() && data.eval.size() >= features.size(0)) images = data.eval.images.slice(0, 0, features.size(0));
    files = studio::exportProjector(out, features, labels, data.train.class_names, folder.id(), images);
  }
  if (a.json) {
    printJson({{"run", folder.id()}, {"format", format}, {"files", files}});
  } else {
    std::printf("Exported %lld embeddings of %lld dimensions:\n", static_cast<long long>(features.size(0)),
                static_cast<long long>(features.size(1)));
    for (const auto& f : files) std::printf("  %s\n", f.c_str());
  }
  return kExitOk;
}

// What this installation can do: version, LibTorch, threads, CUDA support and devices.
int cmdInfo(const Args& a) {
  Json j = {{"version", STUDIO_VERSION},
            {"libtorch", TORCH_VERSION},
            {"cpu_threads", at::get_num_threads()},
            {"cuda", studio::cudaSupportSummary()},
            {"cuda_devices", studio::cudaAvailable() ? torch::cuda::device_count() : 0}};
  if (a.json) {
    std::printf("%s\n", j.dump().c_str());
  } else {
    std::printf("contrastive-cli %s\nLibTorch %s, %d CPU threads\n%s\n", STUDIO_VERSION, TORCH_VERSION,
                at::get_num_threads(), studio::cudaSupportSummary().c_str());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  studio::installCrashReport("contrastive-cli");
  studio::loadCudaSupport();  // before anything asks torch about CUDA
  studio::gpu::registerDeviceKernels();  // this build's CUDA kernels, if it has any
  try {
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--version") == 0) {
        std::printf("contrastive-cli %s\n", STUDIO_VERSION);
        return kExitOk;
      }
      if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
        std::printf("%s", kUsage);
        return kExitOk;
      }
    }
    const Args a = parseArgs(argc, argv);
    if (a.command == "train") return cmdTrain(a);
    if (a.command == "resume") return cmdResume(a);
    if (a.command == "eval") return cmdEval(a);
    if (a.command == "import") return cmdImport(a);
    if (a.command == "runs") return cmdRuns(a);
    if (a.command == "probe") return cmdProbe(a);
    if (a.command == "tsne") return cmdTsne(a);
    if (a.command == "tsne-quality") return cmdTsneQuality(a);
    if (a.command == "knn-recall") return cmdKnnRecall(a);
    if (a.command == "neighbours") return cmdNeighbours(a);
    if (a.command == "duplicates") return cmdDuplicates(a);
    if (a.command == "export") return cmdExport(a);
    if (a.command == "finetune") return cmdFinetune(a);
    if (a.command == "match-weights") return cmdMatchWeights(a);
    if (a.command == "info") return cmdInfo(a);
    if (a.command.empty()) {
      std::fprintf(stderr, "%s", kUsage);
      return kExitBadInput;
    }
    studio::throwBadInput("unknown command \"" + a.command + "\" (see --help)");
  } catch (const Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "contrastive-cli: %s\n", e.what());
    if (e.kind() == ErrorKind::Cancelled) return kExitInterrupted;
    return e.kind() == ErrorKind::BadInput ? kExitBadInput : kExitFailure;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    const std::string what = e.what();
    std::fprintf(stderr, "contrastive-cli: internal error: %s\n", what.substr(0, what.find('\n')).c_str());
    return kExitFailure;
  }
}
