// SPDX-License-Identifier: MIT
#include "mash/formats/zip.h"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/formats/detail.h"

namespace mash::formats {
using namespace detail;

// ---------------------------------------------------------------------------------------------
// zip
namespace {
std::vector<uint8_t> inflate_raw(const uint8_t* src, size_t n, size_t expected, const std::string& what) {
    std::vector<uint8_t> out(expected);
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) fail(what, "zlib init failed");
    zs.next_in = const_cast<Bytef*>(src);
    zs.avail_in = uInt(n);
    zs.next_out = out.data();
    zs.avail_out = uInt(expected);
    int rc = inflate(&zs, Z_FINISH);
    size_t produced = expected - zs.avail_out;
    inflateEnd(&zs);
    if (rc != Z_STREAM_END || produced != expected) fail(what, "corrupt deflate data in zip member");
    return out;
}

std::vector<uint8_t> deflate_raw(const std::vector<uint8_t>& src) {
    z_stream zs{};
    deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    std::vector<uint8_t> out(deflateBound(&zs, uLong(src.size())));
    zs.next_in = const_cast<Bytef*>(src.data());
    zs.avail_in = uInt(src.size());
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    deflate(&zs, Z_FINISH);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}
}  // namespace

std::vector<ZipEntry> read_zip(const uint8_t* b, size_t size, const std::string& what) {
    if (size < 22) fail(what, "not a zip/.npz archive (too short)");
    // Locate the end-of-central-directory record (it may be followed by a comment of <= 64 KiB).
    size_t eocd = std::string::npos;
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0;
    for (size_t p = size - 22 + 1; p-- > lo;) {
        if (read_le(b + p, 4) == 0x06054b50) {
            eocd = p;
            break;
        }
    }
    if (eocd == std::string::npos) fail(what, "not a zip/.npz archive (no end-of-central-directory record; truncated?)");
    uint64_t count = read_le(b + eocd + 10, 2);
    uint64_t cd_size = read_le(b + eocd + 12, 4);
    uint64_t cd_off = read_le(b + eocd + 16, 4);
    if (cd_off == 0xffffffffu || count == 0xffff) {
        // zip64: the locator sits right before the EOCD.
        if (eocd < 20 || read_le(b + eocd - 20, 4) != 0x07064b50) fail(what, "corrupt zip64 archive");
        uint64_t rec = read_le(b + eocd - 20 + 8, 8);
        if (rec > size - 56 || read_le(b + rec, 4) != 0x06064b50) fail(what, "corrupt zip64 archive");
        count = read_le(b + rec + 32, 8);
        cd_size = read_le(b + rec + 40, 8);
        cd_off = read_le(b + rec + 48, 8);
    }
    if (cd_off > size || cd_size > size - cd_off) fail(what, "corrupt zip central directory");
    if (count > 100000) fail(what, "zip archive has too many members");
    std::vector<ZipEntry> out;
    size_t p = cd_off;
    const size_t end = cd_off + cd_size;
    for (uint64_t k = 0; k < count; ++k) {
        if (p + 46 > end || read_le(b + p, 4) != 0x02014b50) fail(what, "corrupt zip central directory");
        uint64_t method = read_le(b + p + 10, 2);
        uint64_t crc = read_le(b + p + 16, 4);
        uint64_t csize = read_le(b + p + 20, 4);
        uint64_t usize = read_le(b + p + 24, 4);
        uint64_t nlen = read_le(b + p + 28, 2), xlen = read_le(b + p + 30, 2), clen = read_le(b + p + 32, 2);
        uint64_t loff = read_le(b + p + 42, 4);
        if (p + 46 + nlen + xlen + clen > end) fail(what, "corrupt zip central directory");
        std::string name(reinterpret_cast<const char*>(b + p + 46), nlen);
        // zip64 extended information in the extra field.
        size_t x = p + 46 + nlen, xend = x + xlen;
        while (x + 4 <= xend) {
            uint64_t id = read_le(b + x, 2), len = read_le(b + x + 2, 2);
            if (x + 4 + len > xend) break;
            if (id == 0x0001) {
                size_t q = x + 4, qend = q + len;
                auto take = [&](uint64_t& field) {
                    if (field == 0xffffffffu) {
                        if (q + 8 > qend) fail(what, "corrupt zip64 extra field");
                        field = read_le(b + q, 8);
                        q += 8;
                    }
                };
                take(usize);
                take(csize);
                take(loff);
            }
            x += 4 + len;
        }
        p += 46 + nlen + xlen + clen;
        if (loff > size - 30 || read_le(b + loff, 4) != 0x04034b50) fail(what, "corrupt zip member '" + name + "'");
        uint64_t lnlen = read_le(b + loff + 26, 2), lxlen = read_le(b + loff + 28, 2);
        uint64_t data_off = loff + 30 + lnlen + lxlen;
        if (data_off > size || csize > size - data_off) fail(what, "truncated zip member '" + name + "'");
        if (usize > (uint64_t(1) << 36)) fail(what, "zip member '" + name + "' is too large");
        // Deflate cannot expand more than ~1032:1; a larger claim is a corrupt (or hostile) header,
        // and must not make us allocate the claimed size.
        if (method == 8 && usize > 1032 * csize + 1024)
            fail(what, "zip member '" + name + "' claims an impossible uncompressed size (corrupt file)");
        ZipEntry e;
        e.name = name;
        if (method == 0) {
            if (csize != usize) fail(what, "corrupt stored zip member '" + name + "'");
            e.data.assign(b + data_off, b + data_off + csize);
        } else if (method == 8) {
            e.data = inflate_raw(b + data_off, csize, usize, what + " (" + name + ")");
        } else {
            fail(what,
                 "zip member '" + name + "' uses compression method " + std::to_string(method) + " (expected stored or deflate)");
        }
        if (crc32(0L, e.data.data(), uInt(e.data.size())) != crc)
            fail(what, "CRC mismatch in zip member '" + name + "' (corrupt file)");
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<uint8_t> write_zip(const std::vector<ZipEntry>& entries, bool deflate) {
    std::vector<uint8_t> out, cd;
    for (const auto& e : entries) {
        uint32_t crc = uint32_t(crc32(0L, e.data.data(), uInt(e.data.size())));
        std::vector<uint8_t> packed = deflate ? deflate_raw(e.data) : std::vector<uint8_t>();
        const std::vector<uint8_t>& payload = deflate ? packed : e.data;
        if (e.data.size() >= 0xffffffffu || out.size() >= 0xffffffffu)
            throw IoError("write_zip: member '" + e.name + "' exceeds 4 GiB (zip64 not supported)");
        uint64_t loff = out.size();
        auto header = [&](std::vector<uint8_t>& v, bool central) {
            put_le(v, central ? 0x02014b50 : 0x04034b50, 4);
            if (central) put_le(v, 20, 2);  // version made by
            put_le(v, 20, 2);               // version needed
            put_le(v, 0, 2);                // flags
            put_le(v, deflate ? 8 : 0, 2);
            put_le(v, 0, 2);     // mod time
            put_le(v, 0x21, 2);  // mod date: 1980-01-01
            put_le(v, crc, 4);
            put_le(v, payload.size(), 4);
            put_le(v, e.data.size(), 4);
            put_le(v, e.name.size(), 2);
            put_le(v, 0, 2);  // extra
            if (central) {
                put_le(v, 0, 2);            // comment
                put_le(v, 0, 2);            // disk
                put_le(v, 0, 2);            // internal attrs
                put_le(v, 0x01800000u, 4);  // external attrs: -rw-------
                put_le(v, loff, 4);
            }
            v.insert(v.end(), e.name.begin(), e.name.end());
        };
        header(out, false);
        out.insert(out.end(), payload.begin(), payload.end());
        header(cd, true);
    }
    uint64_t cd_off = out.size();
    out.insert(out.end(), cd.begin(), cd.end());
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, entries.size(), 2);
    put_le(out, entries.size(), 2);
    put_le(out, cd.size(), 4);
    put_le(out, cd_off, 4);
    put_le(out, 0, 2);
    return out;
}

}  // namespace mash::formats
