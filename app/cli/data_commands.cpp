// import, runs and info: datasets in, the list of runs, what this installation can do.
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "app/cli/progress_printer.h"
#include "core/base/error.h"
#include "core/device/device.h"
#include "core/runs/run_index.h"
#include "core/version.h"
#ifdef STUDIO_HAVE_IMPORTER
#include "app/importer/image_folder_importer.h"
#endif

namespace studio::cli {

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

}  // namespace studio::cli
