#include "app/studio/run_curves.h"

#include <algorithm>
#include <cmath>

namespace studio {

void RunCurves::add(const std::vector<MetricsRecord>& records) {
  for (const MetricsRecord& r : records) {
    if (r.kind == RecordKind::Step && r.has("loss")) {
      step.push_back(double(r.step));
      loss.push_back(r.value("loss"));
      lr.push_back(r.value("lr"));
      images_per_s.push_back(r.value("images_per_s"));
      last_loss = r.value("loss");
      last_step = r.step;
      last_epoch = r.epoch;
    } else if (r.kind == RecordKind::Eval) {
      const double knn = r.value("knn_top1");
      if (knn >= 0) {
        knn_step.push_back(double(r.step));
        knn_percent.push_back(100.0 * knn);
      }
      best_knn = std::max(best_knn, knn);
      const double raw = r.value("raw_pixel_knn_top1");
      if (raw >= 0) raw_pixel_knn_percent = 100.0 * raw;
      if (r.has("embedding_spread")) {
        health_step.push_back(double(r.step));
        spread.push_back(r.value("embedding_spread"));
        const double dims = r.value("embedding_dims", 0);
        rank_fraction.push_back(dims > 0 ? r.value("effective_rank") / dims : std::nan(""));
        alignment.push_back(r.value("alignment", std::nan("")));
        uniformity.push_back(r.value("uniformity", std::nan("")));
        last_spread = spread.back();
        // A healthy evaluation after a warning clears it.
        if (r.value("collapsing", 0) == 0) collapse_warning.clear();
      }
    } else if (r.kind == RecordKind::Info && r.has("total_steps")) {
      total_steps = static_cast<int64_t>(r.value("total_steps", 0));
      last_step = r.step;
    } else if (r.kind == RecordKind::Info && r.has("collapse_warning")) {
      collapse_warning = r.text;
    }
  }
}

void RunCurves::clearPoints() {
  for (QVector<double>* v : {&step, &loss, &lr, &images_per_s, &knn_step, &knn_percent, &health_step, &spread,
                             &rank_fraction, &alignment, &uniformity})
    v->clear();
}

}  // namespace studio
