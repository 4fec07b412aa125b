// studio-bench: the studio's side of the training benchmark (bench/run_bench.py runs it
// beside the Python peer, bench/peer_simclr.py). Qt-free: it builds on a GPU machine too.
//
//   studio-bench configs                         the benchmark configurations as JSON (the
//                                                peer reads its model and augmentation from here)
//   studio-bench prepare --config NAME --images N --out DIR
//                                                writes DIR/NAME.csds (ours), DIR/NAME.npy (the
//                                                peer's uint8 NCHW copy) and DIR/NAME.json (stats)
//   studio-bench run --config NAME --data DIR/NAME.csds --device cpu|cuda --batch B
//                    [--warmup W] [--steps S] [--profile-steps P] [--threads T]
//                    [--fixed-views] [--set engine.key=value ...]
//                                                trains W + S + P steps through the real trainer:
//                                                images/s from the S plain steps, the step's
//                                                breakdown from the P profiled ones; one JSON line
//   studio-bench matmul --device cuda            measured bf16 matrix-product rate (TFLOP/s)
//   studio-bench augment --config NAME --data DIR/NAME.csds --batch B [--threads T] [--repeats R]
//                                                the views of one step (2B) on the CPU: the fused
//                                                applier against the torch-ops pipeline, median ms
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/augment/augment.h"
#include "core/augment/augment_fused.h"
#include "core/experiment/config.h"
#include "core/base/crash_report.h"
#include "core/data/dataset.h"
#include "core/device/device.h"
#include "core/base/error.h"
#include "core/base/npy.h"
#include "core/data/packed_dataset.h"
#include "core/data/synthetic_dataset.h"
#include "core/train/trainer.h"
#include "gpu/register_kernels.h"

namespace {

using Json = nlohmann::json;
using studio::ExperimentConfig;

struct BenchConfig {
  std::string name, data;  // data: fashion-mnist | bars
  int64_t channels, size;
  ExperimentConfig experiment;  // model, augmentation, method, optimizer
};

// The three configurations of the issue. Augmentation as SimCLR uses it at these sizes
// (blur only at 96 pixels, as in SimCLR's STL-10 and ImageNet recipes).
std::vector<BenchConfig> benchConfigs() {
  std::vector<BenchConfig> out;
  {
    BenchConfig b{"convnet28", "fashion-mnist", 1, 28, {}};
    auto& e = b.experiment;
    e.model.backbone = studio::Backbone::ConvNet;
    e.model.width = 32;
    e.model.head_dims = {256, 128};
    e.augment.crop_scale_min = 0.3;
    e.method.settings["simclr"]["temperature"] = 0.2;
    e.optim.lr = 2e-3;
    out.push_back(b);
  }
  for (int64_t size : {32, 96}) {
    BenchConfig b{"resnet18-" + std::to_string(size), "bars", 3, size, {}};
    auto& e = b.experiment;
    e.model.backbone = studio::Backbone::ResNet18;
    e.model.stem = studio::ResNetStem::Cifar;
    e.model.head_dims = {512, 128};
    e.augment.blur_p = size >= 96 ? 0.5 : 0.0;
    e.method.settings["simclr"]["temperature"] = 0.2;
    e.optim.lr = 1e-3;
    out.push_back(b);
  }
  return out;
}

const BenchConfig& findConfig(const std::string& name) {
  static const auto configs = benchConfigs();
  for (const auto& c : configs)
    if (c.name == name) return c;
  studio::throwBadInput("studio-bench: unknown config \"" + name + "\" (convnet28, resnet18-32, resnet18-96)");
}

// Multiply-adds of one image's forward pass through backbone and head (convolutions and
// linear layers; normalisation, activations and pooling are left out). Training costs
// about three times the forward pass (the backward computes two products per one).
double forwardMacs(const BenchConfig& b) {
  const auto& m = b.experiment.model;
  double macs = 0;
  auto conv = [&](double cin, double cout, double k, double out) { macs += cin * cout * k * k * out * out; };
  double features = 0;
  if (m.backbone == studio::Backbone::ConvNet) {
    const double w = double(m.width), s = double(b.size);
    conv(double(b.channels), w, 3, s);
    conv(w, 2 * w, 3, std::floor(s / 2));
    conv(2 * w, 4 * w, 3, std::floor(std::floor(s / 2) / 2));
    features = 4 * w;
  } else {  // resnet18, CIFAR stem
    double s = double(b.size), in = 64;
    conv(double(b.channels), 64, 3, s);
    const double planes[4] = {64, 128, 256, 512};
    for (int layer = 0; layer < 4; ++layer) {
      for (int block = 0; block < 2; ++block) {
        const bool down = block == 0 && layer > 0;
        if (down) s = std::floor((s - 1) / 2) + 1;
        conv(in, planes[layer], 3, s);
        conv(planes[layer], planes[layer], 3, s);
        if (down) conv(in, planes[layer], 1, s);
        in = planes[layer];
      }
    }
    features = 512;
  }
  double in = features;
  for (const auto d : m.head_dims) {
    macs += in * double(d);
    in = double(d);
  }
  return macs;
}

Json configJson(const BenchConfig& b) {
  Json j = b.experiment.toJson();
  return {{"name", b.name},         {"data", b.data},         {"channels", b.channels},
          {"size", b.size},         {"model", j["model"]},    {"augment", j["augment"]},
          {"method", j["method"]},  {"optim", j["optim"]},    {"forward_macs_per_image", forwardMacs(b)}};
}

struct Args {
  std::string command;
  std::map<std::string, std::string> options;
  std::vector<std::string> sets;
  bool fixed_views = false;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
  int64_t integer(const std::string& key, int64_t fallback) const {
    const auto v = get(key);
    try {
      return v.empty() ? fallback : std::stoll(v);
    } catch (const std::exception&) {
      studio::throwBadInput("studio-bench: --" + key + " expects an integer, got \"" + v + "\"");
    }
  }
};

Args parse(int argc, char** argv) {
  Args a;
  if (argc > 1) a.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--fixed-views") {
      a.fixed_views = true;
    } else if (arg.rfind("--", 0) == 0 && i + 1 < argc) {
      if (arg == "--set")
        a.sets.push_back(argv[++i]);
      else
        a.options[arg.substr(2)] = argv[++i];
    } else {
      studio::throwBadInput("studio-bench: unexpected argument \"" + arg + "\"");
    }
  }
  return a;
}

int prepare(const Args& a) {
  const BenchConfig& b = findConfig(a.get("config"));
  const int64_t n = a.integer("images", 4096);
  const std::string dir = a.get("out", ".");
  std::filesystem::create_directories(dir);
  studio::PackedDataset p;
  if (b.data == "fashion-mnist") {
    studio::DatasetConfig d;
    d.kind = studio::DatasetKind::FashionMnist;
    d.train_limit = n;
    const auto split = studio::loadDataset(d, 0);
    const auto images = split.train.images.contiguous();
    const auto labels = split.train.labels.to(torch::kInt32).contiguous();
    p.count = images.size(0);
    p.channels = images.size(1);
    p.height = images.size(2);
    p.width = images.size(3);
    p.pixels.assign(images.data_ptr<uint8_t>(), images.data_ptr<uint8_t>() + images.numel());
    p.labels.assign(labels.data_ptr<int32_t>(), labels.data_ptr<int32_t>() + labels.numel());
    p.class_names = split.train.class_names;
  } else {
    p = studio::makeBarsDataset(n, b.channels, b.size, b.size, 10);
  }
  const std::string base = dir + "/" + b.name;
  studio::writePackedDataset(base + ".csds", p);
  studio::writeNpy(base + ".npy", "|u1", {p.count, p.channels, p.height, p.width}, p.pixels.data());
  // Normalisation statistics, measured once so that both sides use the same.
  studio::Dataset d = studio::readPackedAsDataset(base + ".csds");
  std::vector<double> mean, std;
  studio::channelStats(d, mean, std);
  const Json stats = {{"images", p.count}, {"mean", mean}, {"std", std}, {"csds", base + ".csds"}, {"npy", base + ".npy"}};
  studio::writeFileAtomically(base + ".json", stats.dump(2) + "\n");
  std::cout << stats.dump() << std::endl;
  return 0;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

int run(const Args& a) {
  const BenchConfig& b = findConfig(a.get("config"));
  const std::string data = a.get("data");
  if (data.empty()) studio::throwBadInput("studio-bench run: --data FILE.csds is required (studio-bench prepare makes it)");
  const Json stats = Json::parse(studio::readTextFile(data.substr(0, data.size() - 5) + ".json"));
  const int64_t batch = a.integer("batch", 256), warmup = a.integer("warmup", 3), steps = a.integer("steps", 10),
                profile = a.integer("profile-steps", 5), threads = a.integer("threads", 0);

  Json j = b.experiment.toJson();
  j["name"] = "bench-" + b.name;
  j["dataset"] = {{"kind", "packed"}, {"path", data}, {"holdout_fraction", 0.0}};
  j["augment"]["mean"] = stats["mean"];
  j["augment"]["std"] = stats["std"];
  const int64_t total = warmup + steps + profile;
  const int64_t images = stats["images"].get<int64_t>();
  if (images < batch)
    studio::throwBadInput("studio-bench: " + data + " holds " + std::to_string(images) + " images, fewer than a batch of " +
                          std::to_string(batch));
  j["train"] = {{"epochs", total / (images / batch) + 1}, {"batch_size", batch}, {"seed", 0}, {"device", a.get("device", "cpu")},
                {"threads", threads}, {"checkpoint_every_steps", int64_t(1) << 40}, {"max_steps", total}};
  j["monitor"] = {{"every_epochs", 0.0}, {"map_size", 0}};
  for (const auto& s : a.sets) studio::applyConfigOverride(j, s);
  const ExperimentConfig config = ExperimentConfig::fromJson(j);

  const std::string runs = a.get("runs-dir", (std::filesystem::temp_directory_path() / "studio-bench-runs").string());
  studio::Trainer trainer(config, runs);
  trainer.setBenchmarkFixedViews(a.fixed_views);
  std::vector<double> plain_ms;
  std::map<std::string, std::vector<double>> phases;
  std::string plan;
  std::vector<double> losses;
  const auto t0 = std::chrono::steady_clock::now();
  trainer.run([&](const studio::MetricsRecord& r) {
    if (r.kind == studio::RecordKind::Info && plan.empty()) {
      plan = r.text;
      std::cerr << "studio-bench: " << plan << std::endl;  // where a crash report would start from
    }
    if (r.kind != studio::RecordKind::Step) return true;
    losses.push_back(r.value("loss"));
    if (r.step > warmup && r.step <= warmup + steps) plain_ms.push_back(r.value("step_ms"));
    if (r.step > warmup + steps) {
      for (const char* k : {"step_ms", "augment_ms", "augment_host_work_ms", "forward_ms", "loss_ms", "backward_ms",
                            "optimizer_ms"})
        phases[k].push_back(r.value(k));
    }
    if (r.step == warmup + steps) trainer.setStepProfiling(true);
    return true;
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::filesystem::remove_all(trainer.folder().path());

  const double step_ms = median(plain_ms);
  const double fwd_bwd = median(phases["forward_ms"]) + median(phases["backward_ms"]);
  const double profiled_step = median(phases["step_ms"]);
  const double macs = forwardMacs(b);
  const double step_flop = 3.0 * 2.0 * macs * 2.0 * double(batch);  // 2B views, 2 FLOP per MAC, fwd + bwd
  Json out = {{"side", "studio"},
              {"config", b.name},
              {"device", a.get("device", "cpu")},
              {"device_name", studio::describeDevice(studio::resolveDevice(a.get("device", "cpu"), "--device"))},
              {"batch", batch},
              {"threads", torch::get_num_threads()},
              {"fixed_views", a.fixed_views},
              {"plan", plan},
              {"step_ms", step_ms},
              {"step_ms_all", plain_ms},
              {"images_per_s", step_ms > 0 ? 1000.0 * double(batch) / step_ms : 0},
              {"profiled_step_ms", profiled_step},
              {"augment_ms", median(phases["augment_ms"])},
              {"augment_host_work_ms", median(phases["augment_host_work_ms"])},
              {"forward_backward_ms", fwd_bwd},
              {"loss_ms", median(phases["loss_ms"])},
              {"optimizer_ms", median(phases["optimizer_ms"])},
              {"outside_forward_backward", profiled_step > 0 ? 1.0 - fwd_bwd / profiled_step : 0},
              {"model_tflop_per_step", step_flop / 1e12},
              {"achieved_tflops", step_ms > 0 ? step_flop / (step_ms / 1000.0) / 1e12 : 0},
              {"first_loss", losses.empty() ? 0 : losses.front()},
              {"last_loss", losses.empty() ? 0 : losses.back()},
              {"wall_seconds", seconds}};
  std::cout << out.dump() << std::endl;
  return 0;
}

int augment(const Args& a) {
  const BenchConfig& b = findConfig(a.get("config"));
  const std::string data = a.get("data");
  if (data.empty()) studio::throwBadInput("studio-bench augment: --data FILE.csds is required");
  const Json stats = Json::parse(studio::readTextFile(data.substr(0, data.size() - 5) + ".json"));
  const int64_t batch = a.integer("batch", 256), repeats = a.integer("repeats", 7), threads = a.integer("threads", 0);
  if (threads > 0) torch::set_num_threads(static_cast<int>(threads));
  studio::AugmentConfig config = b.experiment.augment;
  config.mean = stats["mean"].get<std::vector<double>>();
  config.std = stats["std"].get<std::vector<double>>();
  const studio::Dataset d = studio::readPackedAsDataset(data);
  const studio::Augmenter aug(config, d.channels(), d.height(), d.width());
  const auto idx = torch::arange(std::min(batch, d.size()), torch::kLong);
  std::vector<double> fused_ms, torch_ms;
  for (int64_t r = 0; r < repeats; ++r) {
    auto gen = studio::makeStepGenerator(0, r);
    const auto p1 = aug.sample(idx.size(0), gen), p2 = aug.sample(idx.size(0), gen);
    auto t0 = std::chrono::steady_clock::now();
    const auto batch_images = d.images.index_select(0, idx);
    const auto reference = torch::cat({aug.apply(batch_images, p1), aug.apply(batch_images, p2)});
    torch_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    t0 = std::chrono::steady_clock::now();
    const auto fused = studio::applyFusedCpu(aug, d.images, torch::cat({idx, idx}), torch::cat({p1.table, p2.table}));
    fused_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  const Json out = {{"config", b.name},         {"batch", batch},
                    {"views", 2 * idx.size(0)}, {"threads", torch::get_num_threads()},
                    {"fused_ms", median(fused_ms)}, {"torch_ops_ms", median(torch_ms)}};
  std::cout << out.dump() << std::endl;
  return 0;
}

int matmul(const Args& a) {
  const torch::Device device = studio::resolveDevice(a.get("device", "cuda"), "--device");
  const int64_t n = a.integer("size", 8192);
  const auto dtype = device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
  const auto x = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  const auto y = torch::randn({n, n}, torch::TensorOptions().device(device).dtype(dtype));
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < 3; ++i) torch::mm(x, y);
  sync();
  std::vector<double> rates;
  for (int i = 0; i < 10; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    torch::mm(x, y);
    sync();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(2.0 * double(n) * double(n) * double(n) / s / 1e12);
  }
  const Json out = {{"device", device.str()},
                    {"device_name", studio::describeDevice(device)},
                    {"dtype", device.is_cuda() ? "bf16" : "fp32"},
                    {"size", n},
                    {"tflops", median(rates)}};
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  studio::installCrashReport("studio-bench");
  studio::loadCudaSupport();  // before anything asks torch about CUDA
  studio::gpu::registerDeviceKernels();  // this build's CUDA kernels, if it has any
  try {
    const Args a = parse(argc, argv);
    if (a.command == "configs") {
      Json all = Json::array();
      for (const auto& b : benchConfigs()) all.push_back(configJson(b));
      std::cout << all.dump(2) << std::endl;
      return 0;
    }
    if (a.command == "prepare") return prepare(a);
    if (a.command == "run") return run(a);
    if (a.command == "matmul") return matmul(a);
    if (a.command == "augment") return augment(a);
    std::cerr << "usage: studio-bench configs | prepare | run | augment | matmul (see bench/studio_bench.cpp)\n";
    return 2;
  } catch (const studio::Error& e) {
    std::cerr << "studio-bench: " << e.what() << "\n";
    return e.kind() == studio::ErrorKind::BadInput ? 2 : 1;
  } catch (const std::exception& e) {
    std::cerr << "studio-bench: " << e.what() << "\n";
    return 1;
  }
}
