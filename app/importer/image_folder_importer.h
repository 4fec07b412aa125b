#pragma once
// Turns a folder of images into a packed dataset (core/data/packed_dataset.h). Uses OpenCV,
// which is why it lives outside core. No Qt: the CLI and the GUI both call it.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace studio {

struct ImportOptions {
  int size = 32;                 // output height = width, in [8, 1024]
  enum class Fit { CenterCrop, Letterbox } fit = Fit::CenterCrop;  // letterbox pads with black
  int channels = 3;              // 3 = RGB, 1 = grayscale
  std::function<bool(int64_t done, int64_t total)> progress;  // may be empty; return false to cancel
};

// A file that was not imported; path is relative to the imported folder (raw bytes).
struct SkippedFile {
  std::string path;
  std::string reason;
};

struct ImportReport {
  int64_t imported = 0;
  std::vector<SkippedFile> skipped;
  std::vector<std::string> class_names;  // empty when the folder is flat (unlabeled)
  std::string output_path;
};

// Imports every image under folder into a packed dataset written to out_path.
// One level of subfolders = classes (sorted by name; files directly in the root are then
// skipped with reason "outside any class folder"); no subfolders = flat, unlabeled (labels -1).
// Hidden files and folders (name starting with '.') are ignored. Throws studio::Error:
// BadInput for a missing folder, bad options or no importable image; Cancelled when
// progress returns false (nothing is written); Failure when writing fails.
ImportReport importImageFolder(const std::string& folder, const std::string& out_path, const ImportOptions& options);

}  // namespace studio
