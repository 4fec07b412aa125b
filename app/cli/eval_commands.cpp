// eval, probe, finetune, neighbours and duplicates: what a run's encoder is worth.
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/cli_args.h"
#include "app/cli/cli_tensors.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/eval/duplicate_scan.h"
#include "core/eval/evaluation.h"
#include "core/eval/run_study.h"
#include "core/eval/supervised.h"
#include "core/runs/run_folder.h"
#include "core/eval/run_evaluation.h"

namespace studio::cli {
namespace {

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

}  // namespace

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

}  // namespace studio::cli
