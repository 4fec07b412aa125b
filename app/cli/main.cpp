// contrastive-cli: the headless client of the engine. Exit codes: 0 success, 1 the
// engine failed, 2 bad input (arguments, config, data, run), 130 interrupted (the run
// is checkpointed and can be resumed).
// Each command is a function in the file of its group (commands.h); main() looks it up in
// kCommands.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "app/cli/cli_args.h"
#include "app/cli/commands.h"
#include "core/base/crash_report.h"
#include "core/base/error.h"
#include "core/device/device.h"
#include "core/version.h"
#include "gpu/register_kernels.h"

namespace {

using studio::Error;
using studio::ErrorKind;
using studio::cli::Command;
using studio::cli::kExitBadInput;
using studio::cli::kExitFailure;
using studio::cli::kExitInterrupted;
using studio::cli::kExitOk;

const char* kUsage = R"(Usage: contrastive-cli COMMAND [options]

Commands:
  train --config FILE [--set key=value ...]   pretrain a new run (any method: --set method.name=byol)
  resume RUN                                  continue a run from its last checkpoint
  eval RUN [--k K] [--bank N] [--queries N]   kNN top-1 of a run's encoder (0 = all images)
  import FOLDER --out FILE [--size N] [--fit crop|letterbox] [--gray]
                                              image folder -> packed dataset (.csds)
  runs [--rebuild]                            list runs (--rebuild re-reads the run folders)
  probe RUN [--labels 1%,10%,100%] [--seeds N] [--arms probe,scratch,finetune,...]
        [--supervised-epochs N]
        [--classifiers linear,knn] [--bank N] [--queries N] [--k K]
                                              label-efficiency study: each arm with few labels, mean and
                                              spread over seeds, per-class accuracy, confusion, ECE.
                                              arms: probe (= pretrained,random-init,raw-pixels frozen,
                                              with each classifier), scratch (the architecture trained
                                              supervised), finetune (the pretrained encoder fine-tuned);
                                              default probe,scratch (label_efficiency.json/.csv/.svg
                                              in the run)
  tsne RUN|--input X.npy [--perplexity P] [--iterations N] [--method auto|exact|bh|fft]
        [--neighbours auto|exact|approx] [--threads N] [--seed S] [--rows N] [--out FILE] [--no-quality]
                                              2-D map of the run's embeddings (tsne.csv in the run)
  tsne-quality --input X.npy --layouts A.csv,B.npy   exact KL and 10-NN preservation of layouts
  knn-recall --input X.npy [--k 90] [--rows N] [--threads N]
                                              recall of t-SNE's approximate kNN graph against the exact one
  neighbours RUN --image I [--k K]            most similar held-out images to image I
  duplicates RUN [--threshold T] [--max-pairs N]  near-duplicates in the training bank and leaks into
                                              the held-out split (cosine >= T, default 0.98)
  export RUN --format npy|tsv [--out DIR] [--bank N --queries N]
                                              embeddings as .npy, or TSV + metadata + sprite.png +
                                              projector_config.pbtxt for TensorBoard's Projector;
                                              --bank/--queries re-embed that many images (0 = all)
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
  keys [PREFIX]                               the experiment keys (--set and config files): type,
                                              allowed values, default and meaning
  info                                        version, LibTorch, CPU threads, CUDA support and devices

Options for every command:
  --runs-dir DIR   where runs live (default: $STUDIO_RUNS_DIR or ~/.local/share/contrastive-studio/runs)
  --device D       auto | cpu | cuda | cuda:N (train, resume, eval, probe, finetune, tsne, duplicates, export)
  --json           machine-readable output, one JSON object per line
  --version, --help

Exit codes: 0 success, 1 failure, 2 bad input, 130 interrupted (resumable).
)";

// The commands in the order of the usage text: a new command needs its line there too.
const Command kCommands[] = {
    {"train", studio::cli::cmdTrain},
    {"resume", studio::cli::cmdResume},
    {"eval", studio::cli::cmdEval},
    {"import", studio::cli::cmdImport},
    {"runs", studio::cli::cmdRuns},
    {"probe", studio::cli::cmdProbe},
    {"tsne", studio::cli::cmdTsne},
    {"tsne-quality", studio::cli::cmdTsneQuality},
    {"knn-recall", studio::cli::cmdKnnRecall},
    {"neighbours", studio::cli::cmdNeighbours},
    {"duplicates", studio::cli::cmdDuplicates},
    {"export", studio::cli::cmdExport},
    {"finetune", studio::cli::cmdFinetune},
    {"match-weights", studio::cli::cmdMatchWeights},
    {"keys", studio::cli::cmdKeys},
    {"info", studio::cli::cmdInfo},
};

}  // namespace

int main(int argc, char** argv) {
  studio::installCrashReport("contrastive-cli");
  studio::loadCudaSupport();  // before anything asks torch about CUDA
  studio::gpu::registerDeviceKernels();  // this build's CUDA kernels, if it has any
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
    const studio::cli::Args a = studio::cli::parseArgs(argc, argv);
    for (const Command& c : kCommands)
      if (a.command == c.name) return c.run(a);
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
