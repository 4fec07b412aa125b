#include "app/importer/image_folder_importer.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <filesystem>
#include <system_error>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/base/error.h"
#include "core/data/packed_dataset.h"

namespace studio {
namespace {

namespace fs = std::filesystem;

constexpr int kMinSize = 8;
constexpr int kMaxSize = 1024;
constexpr uintmax_t kMaxFileBytes = uintmax_t{512} << 20;

struct Candidate {
  fs::path path;         // full path, for decoding
  std::string relative;  // relative to the folder, raw bytes, for sources and the report
  int32_t label = -1;
};

bool isHidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

// Byte-order sort keeps the result independent of locale and of directory listing order.
void sortEntries(std::vector<fs::path>& paths) {
  std::sort(paths.begin(), paths.end(),
            [](const fs::path& a, const fs::path& b) { return a.native() < b.native(); });
}

// Non-hidden entries of dir split into folders and regular files (symlinks followed).
// Returns false with ec set when the folder cannot be listed.
bool listFolder(const fs::path& dir, std::vector<fs::path>& folders, std::vector<fs::path>& files,
                std::error_code& ec) {
  fs::directory_iterator it(dir, ec);
  if (ec) return false;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return false;
    const fs::directory_entry& entry = *it;
    if (isHidden(entry.path())) continue;
    std::error_code type_ec;
    if (entry.is_directory(type_ec))
      folders.push_back(entry.path());
    else if (entry.is_regular_file(type_ec))
      files.push_back(entry.path());
  }
  if (ec) return false;
  sortEntries(folders);
  sortEntries(files);
  return true;
}

// OpenCV's what() spans lines and ends in a newline; the report keeps one line per file.
std::string oneLine(const std::string& text) {
  std::string out;
  for (char ch : text) out.push_back(ch == '\n' || ch == '\r' ? ' ' : ch);
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Resizes and crops or pads a decoded BGR image to size x size.
cv::Mat fitImage(const cv::Mat& image, int size, ImportOptions::Fit fit) {
  const int w = image.cols;
  const int h = image.rows;
  // INTER_AREA avoids the aliasing of large reductions; INTER_LINEAR is sharper otherwise.
  const int interpolation = std::max(w, h) > 4 * size ? cv::INTER_AREA : cv::INTER_LINEAR;
  const bool crop = fit == ImportOptions::Fit::CenterCrop;
  // CenterCrop scales the shorter side to size, Letterbox the longer one.
  const double scale = static_cast<double>(size) / (crop ? std::min(w, h) : std::max(w, h));
  int nw = std::max(1, static_cast<int>(std::lround(w * scale)));
  int nh = std::max(1, static_cast<int>(std::lround(h * scale)));
  if (crop) {
    nw = std::max(nw, size);
    nh = std::max(nh, size);
  } else {
    nw = std::min(nw, size);
    nh = std::min(nh, size);
  }
  cv::Mat resized;
  if (nw == w && nh == h)
    resized = image;
  else
    cv::resize(image, resized, cv::Size(nw, nh), 0, 0, interpolation);
  if (crop) {
    const cv::Rect roi((nw - size) / 2, (nh - size) / 2, size, size);
    return resized(roi).clone();
  }
  cv::Mat out(size, size, resized.type(), cv::Scalar::all(0));
  resized.copyTo(out(cv::Rect((size - nw) / 2, (size - nh) / 2, nw, nh)));
  return out;
}

// Decodes one file into NCHW bytes appended to pixels; returns the skip reason or "".
std::string importOne(const Candidate& c, const ImportOptions& options, std::vector<uint8_t>& pixels) {
  std::error_code ec;
  const uintmax_t bytes = fs::file_size(c.path, ec);
  if (ec) return "cannot read: " + ec.message();
  if (bytes == 0) return "empty file";
  if (bytes > kMaxFileBytes) return "file too large";
  try {
    // IMREAD_COLOR applies the EXIF orientation, so phone photos come out upright.
    const cv::Mat image = cv::imread(c.path.string(), cv::IMREAD_COLOR);
    if (image.empty() || image.cols <= 0 || image.rows <= 0) return "not a decodable image";
    const cv::Mat fitted = fitImage(image, options.size, options.fit);
    cv::Mat converted;
    cv::cvtColor(fitted, converted, options.channels == 1 ? cv::COLOR_BGR2GRAY : cv::COLOR_BGR2RGB);
    std::vector<cv::Mat> planes;
    cv::split(converted, planes);
    const size_t plane_bytes = static_cast<size_t>(options.size) * options.size;
    for (const cv::Mat& plane : planes) {
      const cv::Mat contiguous = plane.isContinuous() ? plane : plane.clone();
      pixels.insert(pixels.end(), contiguous.data, contiguous.data + plane_bytes);
    }
  } catch (const cv::Exception& e) {
    return "decoder error: " + oneLine(e.what());
  } catch (const std::bad_alloc&) {
    return "decoder error: out of memory";
  } catch (const std::exception& e) {
    return "decoder error: " + oneLine(e.what());
  }
  return {};
}

}  // namespace

ImportReport importImageFolder(const std::string& folder, const std::string& out_path, const ImportOptions& options) {
  if (options.size < kMinSize || options.size > kMaxSize)
    throwBadInput("import: size " + std::to_string(options.size) + " is out of range [" + std::to_string(kMinSize) +
                  ", " + std::to_string(kMaxSize) + "]");
  if (options.channels != 1 && options.channels != 3)
    throwBadInput("import: channels must be 1 (grayscale) or 3 (RGB), got " + std::to_string(options.channels));
  if (out_path.empty()) throwBadInput("import: empty output path");

  const fs::path root(folder);
  std::error_code ec;
  if (!fs::exists(root, ec)) throwBadInput(folder + ": folder does not exist");
  if (!fs::is_directory(root, ec)) throwBadInput(folder + ": not a folder");

  std::vector<fs::path> class_dirs;
  std::vector<fs::path> root_files;
  if (!listFolder(root, class_dirs, root_files, ec)) throwBadInput(folder + ": cannot list folder: " + ec.message());

  ImportReport report;
  std::vector<Candidate> candidates;
  if (class_dirs.empty()) {
    for (const fs::path& p : root_files) candidates.push_back({p, p.filename().string(), -1});
  } else {
    for (const fs::path& p : root_files) report.skipped.push_back({p.filename().string(), "outside any class folder"});
    for (const fs::path& dir : class_dirs) {
      const std::string name = dir.filename().string();
      const auto label = static_cast<int32_t>(report.class_names.size());
      report.class_names.push_back(name);
      std::vector<fs::path> nested;  // deeper folders are not classes: not followed
      std::vector<fs::path> files;
      std::error_code list_ec;
      if (!listFolder(dir, nested, files, list_ec)) {
        report.skipped.push_back({name, "cannot list folder: " + list_ec.message()});
        continue;
      }
      for (const fs::path& p : files) candidates.push_back({p, name + "/" + p.filename().string(), label});
    }
  }

  PackedDataset data;
  data.channels = options.channels;
  data.height = options.size;
  data.width = options.size;
  const auto total = static_cast<int64_t>(candidates.size());
  for (int64_t i = 0; i < total; ++i) {
    const Candidate& c = candidates[static_cast<size_t>(i)];
    const std::string reason = importOne(c, options, data.pixels);
    if (reason.empty()) {
      data.labels.push_back(c.label);
      data.sources.push_back(c.relative);
    } else {
      report.skipped.push_back({c.relative, reason});
    }
    if (options.progress && !options.progress(i + 1, total)) throw Error(ErrorKind::Cancelled, "import cancelled");
  }
  data.count = static_cast<int64_t>(data.labels.size());
  if (data.count == 0)
    throwBadInput(folder + ": no importable images (" + std::to_string(report.skipped.size()) + " files skipped)");

  nlohmann::json skipped = nlohmann::json::array();
  for (const SkippedFile& s : report.skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  data.class_names = report.class_names;
  data.extra = {
      {"importer",
       {{"size", options.size},
        {"fit", options.fit == ImportOptions::Fit::CenterCrop ? "center_crop" : "letterbox"},
        {"channels", options.channels}}},
      {"skipped", std::move(skipped)},
      {"source_folder", folder},
  };
  writePackedDataset(out_path, data);

  report.imported = data.count;
  report.output_path = out_path;
  return report;
}

}  // namespace studio
