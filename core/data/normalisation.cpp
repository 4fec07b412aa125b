#include "core/data/normalisation.h"

#include <string>

#include "core/base/error.h"

namespace studio {

void resolveNormalisation(ExperimentConfig& config, const Dataset& train) {
  auto& a = config.augment;
  if (a.mean.empty()) channelStats(train, a.mean, a.std);
  if (static_cast<int64_t>(a.mean.size()) != train.channels())
    throwBadInput("config: augment.mean has " + std::to_string(a.mean.size()) + " values but the images have " +
                  std::to_string(train.channels()) + " channel(s)");
}

}  // namespace studio
