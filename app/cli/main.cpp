// contrastive-cli: the headless client of the engine. Exit codes: 0 success, 1 the
// engine failed, 2 bad input (arguments, config, data, run), 130 interrupted (the run
// is checkpointed and can be resumed).
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "app/cli/progress_printer.h"
#include "core/config.h"
#include "core/error.h"
#include "core/run_folder.h"
#include "core/run_index.h"
#include "core/trainer.h"
#include "core/version.h"
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
  bool json = false, gray = false, rebuild = false;
};

Args parseArgs(int argc, char** argv) {
  Args a;
  static const std::vector<std::string> kValued = {"--config", "--runs-dir", "--out", "--size", "--fit", "--k",
                                                   "--bank",   "--queries",  "--device"};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      a.json = true;
    } else if (arg == "--gray") {
      a.gray = true;
    } else if (arg == "--rebuild") {
      a.rebuild = true;
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

int cmdTrain(const Args& a) {
  needPositional(a, 0, "no positional arguments");
  const std::string path = option(a, "--config");
  if (path.empty()) studio::throwBadInput("train needs --config FILE (presets are in resources/presets/)");
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
  studio::Trainer trainer(config, runsDir(a));
  return runTrainer(a, trainer);
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

}  // namespace

int main(int argc, char** argv) {
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
