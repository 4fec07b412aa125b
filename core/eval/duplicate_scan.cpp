#include "core/eval/duplicate_scan.h"

#include <torch/torch.h>

#include <memory>

#include "core/eval/evaluation.h"
#include "core/eval/run_embeddings.h"

namespace studio {

namespace {

ImageTable tableOf(const torch::Tensor& images, const torch::Tensor& labels, const std::vector<std::string>& names) {
  ImageTable t;
  if (!images.defined() || images.size(0) == 0) return t;
  t.count = images.size(0);
  t.channels = images.size(1);
  t.height = images.size(2);
  t.width = images.size(3);
  auto holder = std::make_shared<torch::Tensor>(images.to(torch::kCPU, torch::kByte).contiguous());
  t.pixels = std::shared_ptr<const uint8_t>(holder, holder->data_ptr<uint8_t>());
  const auto l = labels.to(torch::kCPU, torch::kLong).contiguous();
  t.labels.assign(l.data_ptr<int64_t>(), l.data_ptr<int64_t>() + l.numel());
  t.class_names = names;
  return t;
}

std::vector<ScanPair> pairsOf(const DuplicateReport& report) {
  std::vector<ScanPair> out;
  out.reserve(report.pairs.size());
  for (const auto& p : report.pairs) out.push_back({p.a, p.b, p.similarity});
  return out;
}

}  // namespace

DuplicateScan scanRunForDuplicates(const RunFolder& folder, double threshold, int64_t bank_size, int64_t query_size,
                                   const std::string& device, int64_t max_pairs) {
  const RunEmbeddings e = embedRun(folder, bank_size, query_size, device);
  const DuplicateReport within = findDuplicates(e.bank_features, threshold, max_pairs);
  const DuplicateReport across = findLeaks(e.bank_features, e.query_features, threshold, max_pairs);
  DuplicateScan scan;
  scan.threshold = threshold;
  scan.step = e.step;
  scan.duplicate_pairs = within.total_pairs;
  scan.duplicate_images = within.images_involved;
  scan.leak_pairs = across.total_pairs;
  scan.leak_images = across.images_involved;
  scan.duplicates = pairsOf(within);
  scan.leaks = pairsOf(across);
  scan.train = tableOf(e.bank_images, e.bank_labels, e.class_names);
  scan.test = tableOf(e.query_images, e.query_labels, e.class_names);
  return scan;
}

}  // namespace studio
