#pragma once
// The settings of supervised fine-tuning (core/eval/supervised.h), torch-free so that the
// label-efficiency study's options (core/eval/run_study.h) can carry them to the GUI.
#include <cstdint>

namespace studio {

struct FinetuneOptions {
  double label_fraction = 0.1;      // of the labelled pool, per class (core/eval/evaluation.h balancedSubset)
  int64_t seed = 0;                 // draws the subset, the validation split, the batches and the views
  bool from_pretrained = true;      // false: "scratch", the same architecture from random weights
  int64_t max_epochs = 30;
  int64_t patience = 5;             // epochs without a better validation top-1 before stopping
  int64_t batch_size = 64;
  // An epoch draws max(labelled training images, this) samples (with replacement, class-
  // balanced): a few dozen labels still get enough steps per epoch to learn from.
  int64_t min_epoch_samples = 1024;
  double lr = 1e-3;                 // AdamW, cosine-decayed over max_epochs, for the head
  double backbone_lr_mult = 1.0;    // the encoder's rate = lr * this
  double weight_decay = 1e-4;
  int64_t freeze_stages = 0;        // the first N stages of the encoder stay fixed
  double validation_fraction = 0.2; // of the labelled subset, class-balanced; classes with one example give none
  bool augment = true;              // random resized crop (scale 0.6-1) and the run's flip
  // Pretrained arm: the head starts as the linear probe of the frozen features (LP-FT,
  // Kumar et al. 2022), its weight decay chosen on the validation split; before any step,
  // that starting point is the first candidate of early stopping, so fine-tuning keeps the
  // probe when training does not improve on it.
  bool probe_init_head = true;
};

}  // namespace studio
