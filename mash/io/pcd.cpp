// SPDX-License-Identifier: MIT
// PCD point clouds (ascii, binary, binary_compressed with LZF).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mash/io/geometry_formats.h"
#include "mash/io/text_scan.h"

namespace mash::io {

using namespace detail;

namespace {

/// LZF (liblzf format, as PCL writes it) into exactly `out.size()` bytes; false if the stream is
/// malformed or does not fill `out` exactly.
bool lzf_decompress(const uint8_t* in, size_t n, std::vector<uint8_t>& out) {
    size_t ip = 0, op = 0;
    while (ip < n) {
        uint32_t ctrl = in[ip++];
        if (ctrl < 32) {  // literal run of ctrl + 1 bytes
            size_t len = ctrl + 1;
            if (ip + len > n || op + len > out.size()) return false;
            std::memcpy(out.data() + op, in + ip, len);
            ip += len;
            op += len;
        } else {  // back reference
            size_t len = ctrl >> 5;
            if (len == 7) {
                if (ip >= n) return false;
                len += in[ip++];
            }
            if (ip >= n) return false;
            const size_t back = ((ctrl & 0x1f) << 8) + in[ip++] + 1;
            len += 2;
            if (back > op || op + len > out.size()) return false;
            for (size_t i = 0; i < len; ++i, ++op) out[op] = out[op - back];
        }
    }
    return op == out.size();
}

double read_scalar(const uint8_t* p, char type, int size) {
    switch (type) {
        case 'F':
            return size == 4 ? double(detail::load<float>(p)) : detail::load<double>(p);
        case 'I':
            return size == 1   ? double(int8_t(p[0]))
                   : size == 2 ? double(detail::load<int16_t>(p))
                   : size == 4 ? double(detail::load<int32_t>(p))
                               : double(detail::load<int64_t>(p));
        default:
            return size == 1   ? double(p[0])
                   : size == 2 ? double(detail::load<uint16_t>(p))
                   : size == 4 ? double(detail::load<uint32_t>(p))
                               : double(detail::load<uint64_t>(p));
    }
}

}  // namespace

RawGeometry parse_pcd(const std::vector<uint8_t>& bytes, const std::string& path) {
    Lines lines(bytes);
    std::string line;
    std::vector<std::string> fields;
    std::vector<int> sizes, counts;
    std::vector<char> types;
    int64_t points = -1, width = -1, height = 1;
    std::string data;
    auto integer = [&](const std::string& t, const char* what) {
        char* e = nullptr;
        errno = 0;
        long long x = std::strtoll(t.c_str(), &e, 10);
        if (t.empty() || *e != '\0' || errno == ERANGE || x < 0)
            fail(path, "header: " + std::string(what) + " '" + t + "' is not a non-negative integer");
        return int64_t(x);
    };
    while (data.empty()) {
        if (!lines.next(line)) fail(path, "PCD header has no DATA line (expected a PCD file)");
        auto w = words(line);
        if (w.empty() || w[0][0] == '#') continue;
        const std::string& key = w[0];
        if (key == "VERSION" || key == "VIEWPOINT") continue;
        if (key == "FIELDS")
            fields.assign(w.begin() + 1, w.end());
        else if (key == "SIZE") {
            sizes.clear();
            for (size_t i = 1; i < w.size(); ++i) sizes.push_back(int(integer(w[i], "SIZE")));
        } else if (key == "TYPE") {
            types.clear();
            for (size_t i = 1; i < w.size(); ++i) types.push_back(w[i].size() == 1 ? w[i][0] : '?');
        } else if (key == "COUNT") {
            counts.clear();
            for (size_t i = 1; i < w.size(); ++i) counts.push_back(int(std::min<int64_t>(integer(w[i], "COUNT"), 1 << 20)));
        } else if (key == "WIDTH" && w.size() == 2)
            width = integer(w[1], "WIDTH");
        else if (key == "HEIGHT" && w.size() == 2)
            height = integer(w[1], "HEIGHT");
        else if (key == "POINTS" && w.size() == 2)
            points = integer(w[1], "POINTS");
        else if (key == "DATA" && w.size() == 2)
            data = w[1];
        else
            fail(path, "header line " + std::to_string(lines.number()) + ": unknown or malformed '" + key +
                           "' (expected a PCD header)");
    }
    const size_t nf = fields.size();
    if (nf == 0) fail(path, "PCD header has no FIELDS");
    if (counts.empty()) counts.assign(nf, 1);
    if (sizes.size() != nf || types.size() != nf || counts.size() != nf)
        fail(path, "PCD header: FIELDS, SIZE, TYPE and COUNT disagree in length");
    if (points < 0) {
        if (width < 0) fail(path, "PCD header has neither POINTS nor WIDTH");
        if (height > 0 && width > std::numeric_limits<int64_t>::max() / height)
            fail(path, "PCD header: WIDTH x HEIGHT overflows");
        points = width * height;
    }
    // Byte offset of each field inside a point record, and the record size.
    std::vector<size_t> offset(nf);
    size_t record = 0;
    for (size_t i = 0; i < nf; ++i) {
        const int s = sizes[i];
        const char t = types[i];
        const bool ok = (t == 'F' && (s == 4 || s == 8)) || ((t == 'I' || t == 'U') && (s == 1 || s == 2 || s == 4 || s == 8));
        if (!ok) fail(path, "PCD field '" + fields[i] + "': unsupported TYPE/SIZE (expected F 4|8, I/U 1|2|4|8)");
        offset[i] = record;
        record += size_t(s) * size_t(counts[i]);
    }
    // Index of the first value of each field within the ASCII columns.
    std::vector<size_t> column(nf);
    size_t columns = 0;
    for (size_t i = 0; i < nf; ++i) {
        column[i] = columns;
        columns += size_t(counts[i]);
    }
    auto find = [&](const char* name) -> int {
        for (size_t i = 0; i < nf; ++i)
            if (fields[i] == name && counts[i] >= 1) return int(i);
        return -1;
    };
    const int fx = find("x"), fy = find("y"), fz = find("z");
    if (fx < 0 || fy < 0 || fz < 0) fail(path, "PCD has no x, y and z fields");
    const int nx = find("normal_x"), ny = find("normal_y"), nz = find("normal_z");
    const bool with_normals = nx >= 0 && ny >= 0 && nz >= 0;
    const int want[6] = {fx, fy, fz, nx, ny, nz};
    const int nwant = with_normals ? 6 : 3;
    RawGeometry g;
    const size_t body = lines.offset();
    const size_t left = body <= bytes.size() ? bytes.size() - body : 0;
    if (data == "ascii") {
        if (points > int64_t(left / 2 + 1))
            fail(path, "PCD declares " + std::to_string(points) + " points, more than the file holds");
        std::vector<double> v;
        int64_t got = 0;
        while (got < points && lines.next(line)) {
            if (blank(line)) continue;
            if (!numbers(line, v) || v.size() < columns)
                fail(path, "line " + std::to_string(lines.number()) + ": expected " + std::to_string(columns) + " values");
            for (int k = 0; k < nwant; ++k) (k < 3 ? g.vertices : g.normals).push_back(v[column[size_t(want[k])]]);
            ++got;
        }
        if (got < points) fail(path, "truncated: " + std::to_string(got) + " of " + std::to_string(points) + " points");
    } else if (data == "binary") {
        if (record == 0 || uint64_t(points) > left / record)
            fail(path, "PCD declares " + std::to_string(points) + " points of " + std::to_string(record) +
                           " bytes, the file has " + std::to_string(left) + " bytes of data");
        const uint8_t* base = bytes.data() + body;
        for (int64_t p = 0; p < points; ++p)
            for (int k = 0; k < nwant; ++k) {
                const size_t f = size_t(want[k]);
                (k < 3 ? g.vertices : g.normals)
                    .push_back(read_scalar(base + size_t(p) * record + offset[f], types[f], sizes[f]));
            }
    } else if (data == "binary_compressed") {
        if (left < 8) fail(path, "truncated binary_compressed PCD (no size words)");
        uint32_t csize, usize;
        std::memcpy(&csize, bytes.data() + body, 4);
        std::memcpy(&usize, bytes.data() + body + 4, 4);
        if (csize > left - 8) fail(path, "binary_compressed PCD: compressed size " + std::to_string(csize) + " exceeds the file");
        if (record == 0 || uint64_t(points) > usize || (unsigned __int128)uint64_t(points) * record != usize)
            fail(path, "binary_compressed PCD: uncompressed size " + std::to_string(usize) + " != POINTS x record size");
        if (uint64_t(usize) > 88ull * csize + 64)  // LZF expands at most 264 bytes per 3
            fail(path, "binary_compressed PCD: uncompressed size " + std::to_string(usize) + " impossible for " +
                           std::to_string(csize) + " compressed bytes");
        std::vector<uint8_t> out(usize);
        if (!lzf_decompress(bytes.data() + body + 8, csize, out)) fail(path, "binary_compressed PCD: corrupt LZF data");
        // Column-major: all values of field 0, then field 1, ...
        for (int64_t p = 0; p < points; ++p)
            for (int k = 0; k < nwant; ++k) {
                const size_t f = size_t(want[k]);
                const size_t at = offset[f] * size_t(points) + size_t(p) * size_t(sizes[f]) * size_t(counts[f]);
                (k < 3 ? g.vertices : g.normals).push_back(read_scalar(out.data() + at, types[f], sizes[f]));
            }
    } else {
        fail(path, "PCD DATA '" + data + "' (expected ascii, binary or binary_compressed)");
    }
    return g;
}

}  // namespace mash::io
