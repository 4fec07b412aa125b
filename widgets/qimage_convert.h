#pragma once
// Conversions from the engine's planar uint8 images (core/data/image_table.h) to QImage, and
// the thumbnail scaling every image view shares. Torch-free, GUI-thread agnostic (QImage
// only, no QPixmap), so workers may call it too.
#include <cstdint>

#include <QImage>

#include "core/data/image_table.h"

namespace studio {

// Image `index` of the table as a deep copy: Format_Grayscale8 for 1 channel,
// Format_RGB888 for 3. A null QImage when the index is out of range or the table's
// channel count is neither 1 nor 3.
QImage toQImage(const ImageTable& table, int64_t index);

// The same for one raw planar (CHW) buffer of channels x height x width bytes.
QImage toQImage(const uint8_t* planar, int channels, int height, int width);

// The image scaled to fit a side x side square, aspect ratio kept. Upscaling uses nearest
// neighbour so that small images (28x28) stay crisp; downscaling is smooth.
QImage thumbnail(const QImage& image, int side);

}  // namespace studio
