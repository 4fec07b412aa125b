#pragma once
// The experiment's "measure it" normalisation resolved against its data: augment.mean and
// augment.std, when empty, become the training images' channel statistics, so that the
// config.json a run saves says exactly what ran.
#include "core/data/dataset.h"
#include "core/experiment/config.h"

namespace studio {

// Throws BadInput when the given mean has another number of values than the images have channels.
void resolveNormalisation(ExperimentConfig& config, const Dataset& train);

}  // namespace studio
