// contrastive-onnx-export: a studio model's exchange weights (safetensors) and its
// architecture.json -> an ONNX file, checked by ONNX's checker. A process of its own because
// the ONNX library's protobuf must not meet LibTorch's in one process; contrastive-cli and
// the studio run it (core/exchange/model_export.h). Exit codes: 0 written, 2 bad input, 1 failure.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "app/onnx_export/onnx_graph_builder.h"
#include "core/base/error.h"
#include "core/base/file_io.h"
#include "core/base/safetensors.h"

namespace {

const char* kUsage = R"(Usage: contrastive-onnx-export --weights FILE.safetensors --architecture FILE.json --out FILE.onnx [--opset 17]

Builds the ONNX model (opset 17, dynamic batch) of a Contrastive Studio encoder from the
files `contrastive-cli export RUN --format onnx` prepares, and checks it with ONNX's checker.
)";

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::printf("%s", kUsage);
      return 0;
    }
    if ((arg == "--weights" || arg == "--architecture" || arg == "--out" || arg == "--opset") && i + 1 < argc) {
      options[arg] = argv[++i];
    } else {
      std::fprintf(stderr, "contrastive-onnx-export: unexpected argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
  }
  for (const char* key : {"--weights", "--architecture", "--out"})
    if (!options.count(key)) {
      std::fprintf(stderr, "contrastive-onnx-export: %s is required\n%s", key, kUsage);
      return 2;
    }
  try {
    int64_t opset = 17;
    if (options.count("--opset")) {
      char* end = nullptr;
      opset = std::strtoll(options["--opset"].c_str(), &end, 10);
      if (!end || *end) studio::throwBadInput("--opset \"" + options["--opset"] + "\" is not an integer");
    }
    nlohmann::json arch;
    try {
      arch = nlohmann::json::parse(studio::readTextFile(options["--architecture"]));
    } catch (const nlohmann::json::exception& e) {
      studio::throwBadInput(options["--architecture"] + ": not valid JSON (" + e.what() + ")");
    }
    const studio::SafetensorsFile weights = studio::SafetensorsFile::read(options["--weights"]);
    studio::OnnxGraphBuilder builder(weights, arch, opset);
    const onnx::ModelProto model = builder.build();
    studio::OnnxGraphBuilder::check(model, arch);
    std::string bytes;
    if (!model.SerializeToString(&bytes)) studio::throwFailure("the ONNX model could not be serialised");
    studio::writeFileAtomically(options["--out"], bytes);
    std::printf("%s\n", nlohmann::json({{"onnx", options["--out"]},
                                        {"opset", opset},
                                        {"nodes", model.graph().node_size()},
                                        {"initializers", model.graph().initializer_size()},
                                        {"bytes", bytes.size()}})
                            .dump()
                            .c_str());
    return 0;
  } catch (const studio::Error& e) {
    std::fprintf(stderr, "contrastive-onnx-export: %s\n", e.what());
    return e.kind() == studio::ErrorKind::BadInput ? 2 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "contrastive-onnx-export: internal error: %s\n", e.what());
    return 1;
  }
}
