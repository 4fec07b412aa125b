#include "core/exchange/embedding_export.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/experiment/config.h"
#include "core/base/error.h"
#include "core/base/png_writer.h"

namespace F = torch::nn::functional;

namespace studio {
namespace {

namespace fs = std::filesystem;

// tensors.tsv is written in slices of this many bytes, so a 70,000 x 512 export never sits
// in memory as one string.
constexpr size_t kFlushBytes = 1 << 20;

std::string shapeText(const torch::Tensor& t) {
  if (!t.defined()) return "none";
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

// Shortest text that reads back to the same float, and never a locale's decimal comma
// (Qt sets the C locale from the environment, which would break printf-style output).
void appendFloat(std::string& out, float value) {
  char buffer[32];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, value).ptr;
  out.append(buffer, end);
}

torch::Tensor floatMatrix(const torch::Tensor& x, const std::string& name, int64_t columns = -1) {
  const std::string layout = columns < 0 ? "[N, D]" : "[N, " + std::to_string(columns) + "]";
  if (!x.defined() || x.dim() != 2 || (columns >= 0 && x.size(1) != columns))
    throwBadInput(name + ": expected a floating-point tensor " + layout + ", got shape " + shapeText(x));
  if (!x.is_floating_point())
    throwBadInput(name + ": expected a floating-point tensor " + layout + ", got dtype " +
                  std::string(c10::toString(x.scalar_type())));
  auto out = x.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  if (out.numel() > 0 && !torch::isfinite(out).all().item<bool>())
    throwBadInput(name + ": contains NaN or infinite values, which other tools cannot read");
  return out;
}

// Integer labels [n] (-1 = unknown) as int64, or all -1 when labels is undefined.
torch::Tensor labelsOrUnknown(const torch::Tensor& labels, int64_t n, const std::string& rows_of) {
  if (!labels.defined()) return torch::full({n}, -1, torch::kLong);
  if (labels.dim() != 1 || labels.is_floating_point() || labels.is_complex() || labels.scalar_type() == torch::kBool)
    throwBadInput("labels: expected integer labels [N], got shape " + shapeText(labels) + " dtype " +
                  std::string(c10::toString(labels.scalar_type())));
  if (labels.size(0) != n)
    throwBadInput("labels: expected " + std::to_string(n) + " labels (one per row of " + rows_of + "), got " +
                  std::to_string(labels.size(0)));
  auto out = labels.detach().to(torch::kCPU, torch::kLong).contiguous();
  if (n > 0 && out.min().item<int64_t>() < -1)
    throwBadInput("labels: expected class indices or -1 (unknown), found " + std::to_string(out.min().item<int64_t>()));
  return out;
}

// The Projector splits metadata on tabs and lines: a class name keeps its words, not those.
std::string metadataField(const std::string& text) {
  std::string out = text;
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

std::string csvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void appendCsvLine(std::string& out, const std::vector<std::string>& fields) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csvField(fields[i]);
  }
  out += '\n';
}

// A protobuf text-format string literal.
std::string protoString(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

constexpr int64_t kSpriteLimit = 8192;  // the Projector's largest sprite side

}  // namespace

std::vector<std::string> exportProjectorTsv(const std::string& folder, const torch::Tensor& embeddings,
                                            const torch::Tensor& labels, const std::vector<std::string>& class_names,
                                            const std::string& tensor_name, const std::string& sprite_file,
                                            int64_t sprite_cell) {
  if (folder.empty()) throwBadInput("folder: expected a folder path, got an empty string");
  if (tensor_name.empty()) throwBadInput("tensor_name: expected a name for the Projector, got an empty string");
  if (!sprite_file.empty() && sprite_cell < 1)
    throwBadInput("sprite_cell: expected the sprite's cell side in pixels (>= 1) with sprite_file \"" + sprite_file +
                  "\", got " + std::to_string(sprite_cell));
  const auto x = floatMatrix(embeddings, "embeddings");
  const int64_t n = x.size(0), d = x.size(1);
  if (n == 0 || d == 0) throwBadInput("embeddings: expected at least one row and one column, got " + shapeText(x));
  const auto y = labelsOrUnknown(labels, n, "embeddings");
  const int64_t* label = y.data_ptr<int64_t>();
  if (!class_names.empty())
    for (int64_t i = 0; i < n; ++i)
      if (label[i] >= static_cast<int64_t>(class_names.size()))
        throwBadInput("labels: label " + std::to_string(label[i]) + " at row " + std::to_string(i) +
                      " has no entry in class_names (" + std::to_string(class_names.size()) + " names)");

  std::error_code ec;
  if (fs::exists(folder, ec) && !fs::is_directory(folder, ec))
    throwBadInput("folder: " + folder + " exists and is not a folder");
  fs::create_directories(folder, ec);
  if (ec) throwFailure(folder + ": cannot be created (" + ec.message() + ")");

  const std::string tensors_path = (fs::path(folder) / "tensors.tsv").string();
  const std::string metadata_path = (fs::path(folder) / "metadata.tsv").string();
  const std::string config_path = (fs::path(folder) / "projector_config.json").string();
  const std::string pbtxt_path = (fs::path(folder) / "projector_config.pbtxt").string();

  writeFileAtomically(tensors_path, [&](std::ostream& out) {
    const float* values = x.data_ptr<float>();
    std::string buffer;
    buffer.reserve(kFlushBytes + 64 * static_cast<size_t>(d));
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t j = 0; j < d; ++j) {
        if (j) buffer += '\t';
        appendFloat(buffer, values[i * d + j]);
      }
      buffer += '\n';
      if (buffer.size() >= kFlushBytes) {
        out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        buffer.clear();
      }
    }
    out.write(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  });

  std::string metadata = "index\tlabel\tclass\n";
  for (int64_t i = 0; i < n; ++i) {
    std::string name;
    if (label[i] >= 0) name = class_names.empty() ? std::to_string(label[i]) : metadataField(class_names[label[i]]);
    metadata += std::to_string(i) + '\t' + std::to_string(label[i]) + '\t' + name + '\n';
  }
  writeFileAtomically(metadata_path, metadata);

  Json embedding = {{"tensorName", tensor_name},
                    {"tensorShape", {n, d}},
                    {"tensorPath", "tensors.tsv"},
                    {"metadataPath", "metadata.tsv"}};
  if (!sprite_file.empty())
    embedding["sprite"] = {{"imagePath", sprite_file}, {"singleImageDim", {sprite_cell, sprite_cell}}};
  const Json config = {{"embeddings", Json::array({embedding})}};
  writeFileAtomically(config_path, config.dump(2) + "\n");
  std::string pbtxt = "embeddings {\n  tensor_name: " + protoString(tensor_name) +
                      "\n  tensor_path: \"tensors.tsv\"\n  metadata_path: \"metadata.tsv\"\n";
  if (!sprite_file.empty())
    pbtxt += "  sprite {\n    image_path: " + protoString(sprite_file) + "\n    single_image_dim: " +
             std::to_string(sprite_cell) + "\n    single_image_dim: " + std::to_string(sprite_cell) + "\n  }\n";
  pbtxt += "}\n";
  writeFileAtomically(pbtxt_path, pbtxt);
  return {tensors_path, metadata_path, config_path, pbtxt_path};
}

torch::Tensor spriteCanvas(const torch::Tensor& images_uint8_nchw, int64_t cell) {
  const auto& images = images_uint8_nchw;
  if (cell < 1) throwBadInput("cell: expected the sprite cell side in pixels (>= 1), got " + std::to_string(cell));
  if (!images.defined() || images.dim() != 4 || images.size(0) < 1 || images.size(1) < 1 || images.size(1) > 4 ||
      images.size(2) < 1 || images.size(3) < 1)
    throwBadInput("images_uint8_nchw: expected [N, C, H, W] with N >= 1 and C in 1..4, got shape " +
                  shapeText(images));
  if (images.scalar_type() != torch::kByte)
    throwBadInput("images_uint8_nchw: expected uint8 pixels, got dtype " +
                  std::string(c10::toString(images.scalar_type())));

  torch::NoGradGuard no_grad;
  const int64_t n = images.size(0), channels = images.size(1);
  auto tiles = images.detach().to(torch::kCPU);
  if (images.size(2) != cell || images.size(3) != cell) {
    // Antialiased bilinear: thumbnails of large images keep their detail instead of aliasing.
    tiles = F::interpolate(tiles.to(torch::kFloat32), F::InterpolateFuncOptions()
                                                           .size(std::vector<int64_t>{cell, cell})
                                                           .mode(torch::kBilinear)
                                                           .align_corners(false)
                                                           .antialias(true))
                .round()
                .clamp(0, 255)
                .to(torch::kByte);
  }
  auto cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (cols * cols < n) ++cols;  // sqrt's rounding must not leave an image without a cell
  while ((cols - 1) * (cols - 1) >= n) --cols;
  auto grid = torch::zeros({cols * cols, channels, cell, cell}, torch::kByte);
  grid.slice(0, 0, n).copy_(tiles);
  // (row, col, C, y, x) -> (row, y, col, x, C): tile (r, c) lands at [r*cell + y, c*cell + x].
  return grid.view({cols, cols, channels, cell, cell})
      .permute({0, 3, 1, 4, 2})
      .reshape({cols * cell, cols * cell, channels})
      .contiguous();
}

int64_t spriteCellFor(int64_t n, int64_t h, int64_t w) {
  if (n < 1 || h < 1 || w < 1) return 0;
  auto cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  while (cols * cols < n) ++cols;
  return std::min(std::max(h, w), kSpriteLimit / cols);
}

std::vector<std::string> exportProjector(const std::string& folder, const torch::Tensor& embeddings,
                                         const torch::Tensor& labels, const std::vector<std::string>& class_names,
                                         const std::string& tensor_name, const torch::Tensor& images) {
  if (!images.defined()) return exportProjectorTsv(folder, embeddings, labels, class_names, tensor_name);
  if (images.dim() != 4 || !embeddings.defined() || images.size(0) != embeddings.size(0))
    throwBadInput("images: expected one uint8 [N, C, H, W] image per embedding (" +
                  std::to_string(embeddings.defined() ? embeddings.size(0) : 0) + "), got shape " + shapeText(images));
  const int64_t cell = spriteCellFor(images.size(0), images.size(2), images.size(3));
  if (cell < 1) return exportProjectorTsv(folder, embeddings, labels, class_names, tensor_name);
  // The TSV files first: they check the embeddings and create the folder.
  auto files = exportProjectorTsv(folder, embeddings, labels, class_names, tensor_name, "sprite.png", cell);
  const auto canvas = spriteCanvas(images, cell);
  const std::string sprite_path = (fs::path(folder) / "sprite.png").string();
  writePng(sprite_path, canvas.data_ptr<uint8_t>(), canvas.size(1), canvas.size(0), canvas.size(2));
  files.push_back(sprite_path);
  return files;
}

void exportLayoutCsv(const std::string& path, const torch::Tensor& layout, const torch::Tensor& labels) {
  if (path.empty()) throwBadInput("path: expected a file path, got an empty string");
  const auto xy = floatMatrix(layout, "layout", 2);
  const int64_t n = xy.size(0);
  const auto y = labelsOrUnknown(labels, n, "layout");
  const float* p = xy.data_ptr<float>();
  const int64_t* label = y.data_ptr<int64_t>();
  std::string text = "index,x,y,label\n";
  for (int64_t i = 0; i < n; ++i) {
    text += std::to_string(i) + ',';
    appendFloat(text, p[2 * i]);
    text += ',';
    appendFloat(text, p[2 * i + 1]);
    text += ',' + std::to_string(label[i]) + '\n';
  }
  writeFileAtomically(path, text);
}

void writeCsv(const std::string& path, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows) {
  if (path.empty()) throwBadInput("path: expected a file path, got an empty string");
  if (header.empty()) throwBadInput("header: expected at least one column name, got none");
  std::string text;
  appendCsvLine(text, header);
  for (size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size())
      throwBadInput("rows[" + std::to_string(r) + "]: expected " + std::to_string(header.size()) +
                    " fields (as the header), got " + std::to_string(rows[r].size()));
    appendCsvLine(text, rows[r]);
  }
  writeFileAtomically(path, text);
}

}  // namespace studio
