#pragma once
// Exports of embeddings and study results in formats other tools load: the TensorBoard
// Embedding Projector (TSV + JSON config + sprite layout) and CSV tables. Every file is
// written atomically (a temporary file in the same folder, then a rename), so a reader
// never sees half a file. Numbers are written locale-independently, in the shortest text
// that reads back to the same float.
#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

namespace studio {

// Writes, into folder (created when missing):
//   tensors.tsv             one row per embedding, tab-separated floats;
//   metadata.tsv            header "index\tlabel\tclass", then one row per embedding (class
//                           names with tabs or line breaks replaced by spaces);
//   projector_config.json   {"embeddings":[{"tensorName", "tensorShape":[N, D], "tensorPath",
//                           "metadataPath"[, "sprite":{"imagePath", "singleImageDim":[w, h]}]}]},
//                           as the standalone Projector expects;
//   projector_config.pbtxt  the same in the protobuf text format TensorBoard's projector
//                           plugin reads from a log folder (tensor_path to the TSV).
// embeddings: floating [N, D]; labels: integer [N], or undefined for "-1" and an empty class.
// class_names may be empty (the class column then repeats the label); otherwise every label
// must index it. sprite_file (relative to folder, encoded by the caller from spriteCanvas)
// needs sprite_cell >= 1. Returns the paths written.
std::vector<std::string> exportProjectorTsv(const std::string& folder, const torch::Tensor& embeddings,
                                            const torch::Tensor& labels, const std::vector<std::string>& class_names,
                                            const std::string& tensor_name, const std::string& sprite_file = "",
                                            int64_t sprite_cell = 0);

// The Projector's sprite: a square grid of ceil(sqrt(N)) x ceil(sqrt(N)) cells of side cell,
// image i at grid row i / cols, column i % cols, unused cells black. images: uint8
// [N, C, H, W] with C in 1..4, resized to cell x cell when H or W differ. Returns uint8
// [H, W, C] for the caller's PNG encoder (core has none). The Projector loads sprites up to
// 8192 x 8192 pixels: pick cell so that ceil(sqrt(N)) * cell stays within that.
torch::Tensor spriteCanvas(const torch::Tensor& images_uint8_nchw, int64_t cell);

// The sprite's cell side for n images of h x w pixels: their own size when the grid fits the
// Projector's 8192-pixel limit, else the largest that fits (0 when even 1 pixel does not).
int64_t spriteCellFor(int64_t n, int64_t h, int64_t w);

// exportProjectorTsv plus sprite.png (spriteCanvas at spriteCellFor's cell, encoded by
// core/base/png_writer.h) when images (uint8 [N, C, H, W], C in 1..4, one per embedding) are given
// and a cell fits. Returns the paths written.
std::vector<std::string> exportProjector(const std::string& folder, const torch::Tensor& embeddings,
                                         const torch::Tensor& labels, const std::vector<std::string>& class_names,
                                         const std::string& tensor_name, const torch::Tensor& images = {});

// A 2-D layout (UMAP, t-SNE, PCA) as CSV: header "index,x,y,label". layout: floating [N, 2];
// labels: integer [N], or undefined for -1 on every row.
void exportLayoutCsv(const std::string& path, const torch::Tensor& layout, const torch::Tensor& labels);

// A table as CSV: fields holding a comma, a double quote or a line break are quoted and their
// quotes doubled (RFC 4180); lines end with "\n". Every row must have header.size() fields.
void writeCsv(const std::string& path, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows);

}  // namespace studio
