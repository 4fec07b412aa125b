#pragma once
// The methods' losses and updates as plain functions of tensors, each the same computation as
// the reference implementation people know (lightly's, checked in tests/test_losses.cpp on the
// same tensors): NT-Xent, DCL/DCLW, MoCo's loss against a queue, negative cosine similarity,
// Barlow Twins, VICReg and DINO's cross-entropy; the cosine momentum schedule and the EMA
// update. Inputs may be bf16; every loss computes in float32.
#include <cstdint>
#include <functional>
#include <vector>

#include <torch/types.h>

namespace studio {

struct NtXentResult {
  torch::Tensor loss;         // scalar, differentiable
  torch::Tensor pos_accuracy; // scalar: share of views whose nearest other view is their pair
};

// NT-Xent (SimCLR) over 2N projections: rows i and i+N are the two views of one image.
// Each view's positive is its pair; the other 2N-2 views are negatives.
NtXentResult ntXentLoss(const torch::Tensor& z, double temperature);

// Decoupled contrastive loss (Yeh et al. 2021) of two [N, D] batches of projections: NT-Xent
// without the positive in the denominator, symmetrised. sigma > 0 weights each positive by
// the negative von Mises-Fisher weight 2 - N softmax(cos/sigma) (DCLW); sigma = 0: unweighted.
torch::Tensor dclLoss(const torch::Tensor& z0, const torch::Tensor& z1, double temperature, double sigma);

// Share of rows i of [2N, D] whose most similar other row is its pair (i + N mod 2N).
torch::Tensor pairAccuracy(const torch::Tensor& z);

// MoCo's InfoNCE: each query's positive is its key, its negatives the queue's rows [K, D]
// (keys already L2-normalised); queries and keys [N, D] are normalised here. accuracy, when
// given, receives the share of queries whose positive scores above every negative.
torch::Tensor queueContrastLoss(const torch::Tensor& queries, const torch::Tensor& keys, const torch::Tensor& queue,
                                double temperature, torch::Tensor* accuracy = nullptr);

// Writes rows at the queue's pointer, wrapping round its end; returns the new pointer.
int64_t pushToQueue(torch::Tensor& queue, int64_t pointer, const torch::Tensor& rows);

// -mean cos(x0_i, x1_i) (BYOL, SimSiam): the caller detaches the target side.
torch::Tensor negativeCosineSimilarity(const torch::Tensor& x0, const torch::Tensor& x1);

// Barlow Twins (Zbontar et al. 2021): the cross-correlation of the batch-normalised
// projections pushed to the identity; lambda weighs the off-diagonal terms.
torch::Tensor barlowTwinsLoss(const torch::Tensor& z0, const torch::Tensor& z1, double lambda);

// VICReg (Bardes et al. 2022): invariance (mean squared error), variance (hinge on each
// dimension's standard deviation, sqrt(var + eps)) and covariance (off-diagonal squares / D).
torch::Tensor vicregLoss(const torch::Tensor& z0, const torch::Tensor& z1, double invariance_weight,
                         double variance_weight, double covariance_weight, double eps);

// DINO's loss: the cross-entropy of every student view against every other view's teacher
// output, centred and sharpened: softmax((t - center) / teacher_temperature) against
// log_softmax(s / student_temperature), averaged over the pairs of different views and the batch.
torch::Tensor dinoLoss(const std::vector<torch::Tensor>& teacher, const std::vector<torch::Tensor>& student,
                       const torch::Tensor& center, double teacher_temperature, double student_temperature);

// Multi-crop's combinations of a two-view loss over the views of a batch (the two global
// views first, then the local ones), each term a pair_loss of [N, D] outputs:
using PairLoss = std::function<torch::Tensor(const torch::Tensor&, const torch::Tensor&)>;
// the mean over every pair of views a < b of pair_loss(z[a], z[b]) (SimCLR, DCL: all pairs);
// with two views, pair_loss(z[0], z[1]) itself.
torch::Tensor meanOverViewPairs(const std::vector<torch::Tensor>& z, const PairLoss& pair_loss);
// the mean over the targets t (outputs of the global views) and every other view v != t of
// pair_loss(online[v], target[t]) (BYOL, SimSiam: global to local, as DINO's loss pairs views).
torch::Tensor meanOverTargetPairs(const std::vector<torch::Tensor>& online, const std::vector<torch::Tensor>& target,
                                  const PairLoss& pair_loss);

// BYOL's momentum schedule: from start at step 0 to end at step max_steps - 1 along half a
// cosine (end from there on, and throughout when max_steps <= 1).
double cosineSchedule(int64_t step, int64_t max_steps, double start, double end);

// target = momentum * target + (1 - momentum) * online, parameter by parameter (the two lists
// in the same order and shapes), in place.
void emaUpdate(const std::vector<torch::Tensor>& target, const std::vector<torch::Tensor>& online, double momentum);

}  // namespace studio
