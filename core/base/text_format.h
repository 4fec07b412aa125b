#pragma once
// Numbers and durations as people read them, one spelling for the CLI, the studio and the
// engine's messages. Torch-free and Qt-free.
#include <string>

namespace studio {

// Up to 6 significant digits, no trailing zeros: 0.001, 1e-07, 250000, 3.14159.
std::string formatNumber(double value);

// A duration in the largest units that matter: "45s", "3m12s", "1h02m"; "?" when unknown
// (negative, NaN or infinite).
std::string formatDuration(double seconds);

// A duration as a clock: "3:12" below an hour, "1:02:03" from one; "—" when unknown.
std::string formatClock(double seconds);

}  // namespace studio
