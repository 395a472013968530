// SPDX-License-Identifier: MIT
#include "mash/formats/png.h"

#include <zlib.h>

#include <stdexcept>
#include <string>

#include "mash/core/errors.h"

namespace mash::formats {
namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

/// length, type, data, CRC-32 of type + data.
void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
    put_u32(out, uint32_t(data.size()));
    const size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, out.data() + start, uInt(out.size() - start));
    put_u32(out, uint32_t(crc));
}

}  // namespace

std::vector<uint8_t> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height) {
    if (width <= 0 || height <= 0 || size_t(width) * size_t(height) * 3 != rgb.size())
        throw Error("encode_png_rgb: " + std::to_string(rgb.size()) + " bytes for a " + std::to_string(width) + "x" +
                    std::to_string(height) + " RGB image (expected width*height*3)");
    const size_t stride = size_t(width) * 3;
    std::vector<uint8_t> raw;
    raw.reserve((stride + 1) * size_t(height));
    for (int y = 0; y < height; ++y) {
        const uint8_t* row = rgb.data() + size_t(y) * stride;
        if (y == 0) {
            raw.push_back(0);  // None
            raw.insert(raw.end(), row, row + stride);
        } else {
            raw.push_back(2);  // Up: byte minus the byte above (mod 256)
            const uint8_t* up = row - stride;
            for (size_t i = 0; i < stride; ++i) raw.push_back(uint8_t(row[i] - up[i]));
        }
    }
    uLongf zlen = compressBound(uLong(raw.size()));
    std::vector<uint8_t> z(zlen);
    if (compress2(z.data(), &zlen, raw.data(), uLong(raw.size()), 6) != Z_OK)
        throw Error("encode_png_rgb: zlib compression failed");
    z.resize(zlen);

    std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    std::vector<uint8_t> ihdr;
    put_u32(ihdr, uint32_t(width));
    put_u32(ihdr, uint32_t(height));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // 8-bit, truecolour, deflate, adaptive filters, no interlace
    put_chunk(out, "IHDR", ihdr);
    put_chunk(out, "IDAT", z);
    put_chunk(out, "IEND", {});
    return out;
}

}  // namespace mash::formats
