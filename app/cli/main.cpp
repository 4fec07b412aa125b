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
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/progress_printer.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/device.h"
#include "core/embedding_export.h"
#include "core/error.h"
#include "core/evaluation.h"
#include "core/knn.h"
#include "core/model_export.h"
#include "core/npy.h"
#include "core/run_folder.h"
#include "core/run_embeddings.h"
#include "core/run_index.h"
#include "core/supervised.h"
#include "core/trainer.h"
#include "core/tsne.h"
#include "core/version.h"
#include "core/weight_import.h"
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
  probe RUN [--labels 1%,10%,100%] [--seeds N] [--arms probe,scratch,finetune] [--supervised-epochs N]
                                              label efficiency: linear probe and kNN on the pretrained,
                                              a random and raw pixels; the same architecture trained
                                              supervised from scratch; the pretrained encoder fine-tuned
                                              (default arms: probe,scratch; table + CSV/JSON)
  tsne RUN [--perplexity P] [--iterations N]  2-D map of the run's embeddings (tsne.csv in the run)
  neighbours RUN --image I [--k K]            most similar held-out images to image I
  duplicates RUN [--threshold T]              near-duplicates in the training bank and leaks into
                                              the held-out split (cosine >= T, default 0.98)
  export RUN --format npy|tsv [--out DIR]     embeddings as .npy, or TSV + metadata for TensorBoard
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
  --device D       auto | cpu | cuda | cuda:N (train, resume, eval)
  --json           machine-readable output, one JSON object per line
  --version, --help

Exit codes: 0 success, 1 failure, 2 bad input, 130 interrupted (resumable).
)";

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // --key value
  std::vector<std::string> sets;               // --set key=value, in order
  bool json = false, gray = false, rebuild = false, scratch = false, no_augment = false, no_probe_init = false;
};

Args parseArgs(int argc, char** argv) {
  Args a;
  static const std::vector<std::string> kValued = {
      "--config", "--runs-dir", "--out",   "--size",       "--fit",        "--k",         "--bank",
      "--queries", "--device",  "--labels", "--seeds", "--perplexity", "--iterations", "--image", "--threshold", "--format",
      "--model", "--licence", "--epochs", "--patience", "--batch", "--lr", "--backbone-lr-mult", "--freeze-stages",
      "--seed", "--arms", "--supervised-epochs", "--epoch-samples"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--gray") {
      a.gray = true;
    } else if (arg == "--rebuild") {
      a.rebuild = true;
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
                static_cast<long long>(o.steps), studio::cli::formatDuration(o.seconds).c_str(), o.run_dir.c_str());
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

struct Stats {
  double mean = 0, std = 0;
};
Stats stats(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x / v.size();
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean) / std::max<size_t>(1, v.size() - 1);
  s.std = v.size() > 1 ? std::sqrt(var) : 0.0;
  return s;
}

int cmdProbe(const Args& a) {
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  const auto fractions = parseFractions(option(a, "--labels", "1%,10%,100%"));
  const int64_t seeds = intOption(a, "--seeds", 3, 1, 100);
  const int64_t bank = intOption(a, "--bank", 10000, 0, int64_t(1) << 40);
  const int64_t queries = intOption(a, "--queries", 10000, 0, int64_t(1) << 40);
  const std::string device = option(a, "--device", "auto");
  std::set<std::string> arms;
  {
    const std::string text = option(a, "--arms", "probe,scratch");
    size_t start = 0;
    while (start <= text.size()) {
      const size_t comma = text.find(',', start);
      const std::string arm = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (arm != "probe" && arm != "scratch" && arm != "finetune")
        studio::throwBadInput("--arms = \"" + text + "\": expected a list of probe, scratch, finetune");
      arms.insert(arm);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  const studio::FinetuneOptions tune = finetuneOptions(a, 30);
  std::signal(SIGINT, onSignal);
  const auto pretrained = studio::embedRun(folder, bank, queries, device);
  const auto classes = static_cast<int64_t>(pretrained.class_names.size());
  struct Representation {
    std::string name;
    torch::Tensor train, test;
  };
  std::vector<Representation> reps;
  if (arms.count("probe")) {
    const auto random = studio::embedRun(folder, bank, queries, device, /*random_init=*/true);
    reps = {{"pretrained", pretrained.bank_features, pretrained.query_features},
            {"random-init", random.bank_features, random.query_features},
            {"raw-pixels", studio::rawPixelFeatures(pretrained.bank_images), studio::rawPixelFeatures(pretrained.query_images)}};
  }
  std::vector<std::vector<std::string>> rows;
  Json results = Json::array();
  auto number = [](double v) { return std::to_string(v); };
  if (!a.json)
    std::printf("%-12s %8s %8s  %-18s %-18s %-18s\n", "arm", "labels", "images", "linear probe", "kNN", "supervised");
  auto printRow = [&](const std::string& arm, double f, int64_t used, const std::string& p, const std::string& k,
                      const std::string& sup) {
    if (a.json) return;
    std::printf("%-12s %8s %8lld  %-18s %-18s %-18s\n", arm.c_str(), percentText(f).c_str(), static_cast<long long>(used),
                p.c_str(), k.c_str(), sup.c_str());
    std::fflush(stdout);
  };
  auto accuracyText = [](const Stats& s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%% +- %.2f", 100 * s.mean, 100 * s.std);
    return std::string(buf);
  };
  for (const auto& rep : reps) {
    for (double f : fractions) {
      std::vector<double> probe_acc, knn_acc;
      int64_t used = 0;
      for (int64_t seed = 0; seed < seeds; ++seed) {
        const auto idx = studio::balancedSubset(pretrained.bank_labels, classes, f, seed);
        used = idx.size(0);
        const auto x = rep.train.index_select(0, idx), y = pretrained.bank_labels.index_select(0, idx);
        studio::LinearProbeOptions po;
        po.seed = seed;
        probe_acc.push_back(studio::linearProbe(x, y, rep.test, pretrained.query_labels, classes, po).report.top1);
        studio::KnnOptions ko;
        ko.k = std::min<int64_t>(200, used);
        knn_acc.push_back(studio::knnAccuracy(x, y, rep.test, pretrained.query_labels, classes, ko));
        if (f >= 1.0) break;  // all labels: every seed draws the same subset
      }
      const Stats p = stats(probe_acc), k = stats(knn_acc);
      results.push_back({{"encoder", rep.name}, {"arm", "frozen"}, {"label_fraction", f}, {"labeled_images", used},
                         {"seeds", probe_acc.size()}, {"linear_probe_top1_mean", p.mean}, {"linear_probe_top1_std", p.std},
                         {"knn_top1_mean", k.mean}, {"knn_top1_std", k.std},
                         {"supervised_top1_mean", nullptr}, {"supervised_top1_std", nullptr}});
      rows.push_back({rep.name, number(f), std::to_string(used), std::to_string(probe_acc.size()), number(p.mean),
                      number(p.std), number(k.mean), number(k.std), "", ""});
      printRow(rep.name, f, used, accuracyText(p), accuracyText(k), "-");
    }
  }
  // Supervised arms: the same architecture trained on the same labelled images (the probe's
  // subsets: same pool, fractions and seeds), scored on the same held-out images.
  std::vector<std::string> supervised_arms;
  if (arms.count("scratch")) supervised_arms.push_back("scratch");
  if (arms.count("finetune")) supervised_arms.push_back("finetuned");
  if (!supervised_arms.empty()) {
    studio::SupervisedFinetuner tuner(folder, device);
    for (const auto& arm : supervised_arms) {
      const auto study = studio::supervisedStudy(tuner, pretrained.bank_images, pretrained.bank_labels,
                                                 pretrained.query_images, pretrained.query_labels, classes, {arm},
                                                 fractions, seeds, tune, [] { return !g_interrupted.load(); });
      for (const auto& row : study) {
        const Stats sup{row.mean(), row.stddev()};
        results.push_back({{"encoder", row.arm}, {"arm", "supervised"}, {"label_fraction", row.label_fraction},
                           {"labeled_images", row.labeled_images}, {"seeds", row.test_top1.size()},
                           {"linear_probe_top1_mean", nullptr}, {"linear_probe_top1_std", nullptr},
                           {"knn_top1_mean", nullptr}, {"knn_top1_std", nullptr},
                           {"supervised_top1_mean", sup.mean}, {"supervised_top1_std", sup.std},
                           {"supervised_max_epochs", tune.max_epochs}});
        rows.push_back({row.arm, number(row.label_fraction), std::to_string(row.labeled_images),
                        std::to_string(row.test_top1.size()), "", "", "", "", number(sup.mean), number(sup.std)});
        printRow(row.arm, row.label_fraction, row.labeled_images, "-", "-", accuracyText(sup));
      }
    }
  }
  studio::writeCsv(folder.path() + "/label_efficiency.csv",
                   {"encoder", "label_fraction", "labeled_images", "seeds", "linear_probe_top1_mean",
                    "linear_probe_top1_std", "knn_top1_mean", "knn_top1_std", "supervised_top1_mean",
                    "supervised_top1_std"},
                   rows);
  studio::writeFileAtomically(folder.path() + "/label_efficiency.json", Json({{"run", folder.id()}, {"results", results}}).dump(2) + "\n");
  if (a.json) printJson({{"run", folder.id()}, {"results", results}, {"csv", folder.path() + "/label_efficiency.csv"}});
  else std::printf("Written: %s/label_efficiency.csv and .json\n", folder.path().c_str());
  return kExitOk;
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
  needPositional(a, 1, "a run id or folder");
  const auto folder = studio::RunFolder::open(runsDir(a), a.positional[0]);
  auto [features, labels] = readRunEmbeddings(folder);
  studio::TsneOptions o;
  o.perplexity = doubleOption(a, "--perplexity", 30.0, 1.0, 1000.0);
  o.iterations = intOption(a, "--iterations", 750, 1, 100000);
  o.exaggeration_iterations = std::min<int64_t>(o.exaggeration_iterations, o.iterations / 3);
  const std::string out = option(a, "--out", folder.path() + "/tsne.csv");
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
  const double preservation = studio::neighbourPreservation(features, result.layout, 10);
  if (a.json) {
    printJson({{"run", folder.id()}, {"points", features.size(0)}, {"kl_divergence", result.kl_divergence},
               {"neighbour_preservation_10", preservation}, {"seconds", seconds}, {"csv", out}});
  } else {
    std::printf("\r%lld points in %.1f s: KL %.4f, 10-NN preservation %.3f. Layout: %s\n",
                static_cast<long long>(features.size(0)), seconds, result.kl_divergence, preservation, out.c_str());
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
  const auto e = studio::embedRun(folder, intOption(a, "--bank", 10000, 0, int64_t(1) << 40),
                                  intOption(a, "--queries", 10000, 0, int64_t(1) << 40), option(a, "--device", "auto"));
  const auto within = studio::findDuplicates(e.bank_features, threshold, 1000);
  const auto leaks = studio::findLeaks(e.bank_features, e.query_features, threshold, 1000);
  auto pairs = [](const studio::DuplicateReport& r, size_t most) {
    Json list = Json::array();
    for (size_t i = 0; i < std::min(most, r.pairs.size()); ++i)
      list.push_back({{"a", r.pairs[i].a}, {"b", r.pairs[i].b}, {"similarity", r.pairs[i].similarity}});
    return list;
  };
  if (a.json) {
    printJson({{"run", folder.id()}, {"threshold", threshold}, {"bank_size", e.bank_features.size(0)},
               {"query_size", e.query_features.size(0)},
               {"train_duplicates", {{"pairs", within.total_pairs}, {"images", within.images_involved}, {"top", pairs(within, 1000)}}},
               {"train_test_leaks", {{"pairs", leaks.total_pairs}, {"images", leaks.images_involved}, {"top", pairs(leaks, 1000)}}}});
  } else {
    std::printf("Cosine similarity >= %.3f over %lld training and %lld held-out images:\n", threshold,
                static_cast<long long>(e.bank_features.size(0)), static_cast<long long>(e.query_features.size(0)));
    std::printf("  near-duplicate pairs in training: %lld (%lld images)\n", static_cast<long long>(within.total_pairs),
                static_cast<long long>(within.images_involved));
    std::printf("  train/held-out leak pairs:        %lld (%lld images)\n", static_cast<long long>(leaks.total_pairs),
                static_cast<long long>(leaks.images_involved));
    for (const auto& p : pairs(leaks, 10))
      std::printf("    train %6lld ~ held-out %6lld  similarity %.4f\n", static_cast<long long>(p["a"].get<int64_t>()),
                  static_cast<long long>(p["b"].get<int64_t>()), p["similarity"].get<double>());
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
  auto [features, labels] = readRunEmbeddings(folder);
  std::vector<std::string> files;
  if (format == "npy") {
    const auto f = features.contiguous();
    const auto l = labels.contiguous();
    studio::writeNpy(out + "/embeddings.npy", "<f4", {f.size(0), f.size(1)}, f.data_ptr<float>());
    studio::writeNpy(out + "/labels.npy", "<i8", {l.size(0)}, l.data_ptr<int64_t>());
    files = {out + "/embeddings.npy", out + "/labels.npy"};
  } else {
    const auto config = studio::loadExperimentConfig(folder.configPath());
    const auto classes = studio::loadDataset(config.dataset, config.train.seed).train.class_names;
    files = studio::exportProjectorTsv(out, features, labels, classes, folder.id());
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
  studio::loadCudaSupport();  // before anything asks torch about CUDA
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
