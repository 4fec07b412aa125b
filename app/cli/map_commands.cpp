// tsne, tsne-quality and knn-recall: 2-D maps of embeddings and how faithful they are.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "app/cli/cli_args.h"
#include "app/cli/cli_tensors.h"
#include "app/cli/commands.h"
#include "core/base/error.h"
#include "core/base/npy.h"
#include "core/device/device.h"
#include "core/eval/neighbour_graph.h"
#include "core/eval/tsne.h"
#include "core/exchange/embedding_export.h"
#include "core/experiment/config.h"
#include "core/runs/run_folder.h"

namespace studio::cli {
namespace {

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

}  // namespace

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

}  // namespace studio::cli
