#include "app/cli/progress_printer.h"

#include <unistd.h>

#include <cmath>
#include <string>

#include "core/base/text_format.h"

namespace studio::cli {

ProgressPrinter::ProgressPrinter(Mode mode, std::FILE* out) : mode_(mode), out_(out) {}

ProgressPrinter::Mode ProgressPrinter::detect(bool json) {
  if (json) return Mode::Json;
  return ::isatty(STDOUT_FILENO) ? Mode::Bar : Mode::Lines;
}

void ProgressPrinter::onRecord(const MetricsRecord& r) {
  if (mode_ == Mode::Json) {
    std::fprintf(out_, "%s\n", r.toJson().dump().c_str());
    std::fflush(out_);
    return;
  }
  if (r.kind == RecordKind::Info) {
    if (r.has("total_steps")) total_steps_ = static_cast<int64_t>(r.value("total_steps"));
    finish();
    std::fprintf(out_, "%s\n", r.text.c_str());
  } else if (r.kind == RecordKind::Eval) {
    finish();
    char part[200];
    std::snprintf(part, sizeof part, "epoch %.2f", r.epoch);
    std::string line = part;
    if (r.has("knn_top1")) {
      std::snprintf(part, sizeof part, "  kNN top-1 %.2f%%  (raw pixels %.2f%%, best %.2f%%)", 100 * r.value("knn_top1"),
                    100 * r.value("raw_pixel_knn_top1"), 100 * r.value("best_knn_top1"));
      line += part;
    }
    // The embeddings' health: spread on its 0..1 scale, effective rank out of the dimensions.
    if (r.has("embedding_spread")) {
      std::snprintf(part, sizeof part, "  spread %.2f, rank %.1f/%.0f", r.value("embedding_spread"),
                    r.value("effective_rank"), r.value("embedding_dims"));
      line += part;
    }
    std::fprintf(out_, "%s\n", line.c_str());
  } else if (r.kind == RecordKind::Step) {
    const double frac = total_steps_ > 0 ? double(r.step) / double(total_steps_) : 0;
    char stats[160];
    std::snprintf(stats, sizeof stats, "step %lld/%lld  epoch %.2f  loss %.4f  lr %.2e  %.0f img/s  ETA %s",
                  static_cast<long long>(r.step), static_cast<long long>(total_steps_), r.epoch, r.value("loss"),
                  r.value("lr"), r.value("images_per_s"), formatDuration(r.value("eta_s")).c_str());
    if (mode_ == Mode::Bar) {
      constexpr int kWidth = 28;
      const int filled = static_cast<int>(frac * kWidth);
      std::string bar(filled, '#');
      bar += std::string(kWidth - filled, '-');
      std::fprintf(out_, "\r[%s] %3.0f%%  %s\x1b[K", bar.c_str(), 100 * frac, stats);
      bar_open_ = true;
      std::fflush(out_);
    } else {
      const auto now = std::chrono::steady_clock::now();
      if (r.step == total_steps_ || r.step == 1 || now - last_line_ > std::chrono::seconds(10)) {
        std::fprintf(out_, "%3.0f%%  %s\n", 100 * frac, stats);
        std::fflush(out_);
        last_line_ = now;
      }
    }
  } else if (r.kind == RecordKind::End) {
    finish();
  }
}

void ProgressPrinter::finish() {
  if (bar_open_) {
    std::fprintf(out_, "\n");
    bar_open_ = false;
  }
}

}  // namespace studio::cli
