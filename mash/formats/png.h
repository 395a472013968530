// SPDX-License-Identifier: MIT
// PNG writing (8-bit RGB, zlib deflate, no interlace): the pictures of plots, renders and
// previews, without an image library. Readable by every PNG reader (numpy via imageio/PIL,
// Open3D, browsers).
#pragma once
#include <cstdint>
#include <vector>

namespace mash::formats {

/// The PNG file bytes of a width × height RGB image (row-major, 3 bytes per pixel, top row first).
/// Rows use PNG filter "Up" (or "None" for the first), deflated at level 6.
std::vector<uint8_t> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height);

}  // namespace mash::formats
