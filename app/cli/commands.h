#pragma once
// The commands of contrastive-cli, one function each: it returns the exit code, or throws
// studio::Error (main() prints it and maps its kind to the exit code). main.cpp holds the
// table that maps the command names to them and the usage text that documents them.
#include "app/cli/cli_args.h"

namespace studio::cli {

struct Command {
  const char* name;           // as typed: "train", "tsne-quality", ...
  int (*run)(const Args& a);  // returns the exit code
};

// Pretraining and the weights it starts from (train_commands.cpp).
int cmdTrain(const Args& a);
int cmdResume(const Args& a);
int cmdMatchWeights(const Args& a);
int cmdKeys(const Args& a);  // the experiment keys --set accepts

// Datasets, the run list and the installation (data_commands.cpp).
int cmdImport(const Args& a);
int cmdRuns(const Args& a);
int cmdInfo(const Args& a);

// Evaluation of a run's encoder: kNN, label efficiency, fine-tuning, neighbours, duplicates
// (eval_commands.cpp).
int cmdEval(const Args& a);
int cmdProbe(const Args& a);
int cmdFinetune(const Args& a);
int cmdNeighbours(const Args& a);
int cmdDuplicates(const Args& a);

// 2-D maps of embeddings and their quality (map_commands.cpp).
int cmdTsne(const Args& a);
int cmdTsneQuality(const Args& a);
int cmdKnnRecall(const Args& a);

// Embeddings and models out of a run (export_commands.cpp).
int cmdExport(const Args& a);

}  // namespace studio::cli
