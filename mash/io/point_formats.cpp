// SPDX-License-Identifier: MIT
#include "mash/io/point_formats.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "mash/core/errors.h"
#include "mash/io/polygon.h"

namespace mash::io::formats {
namespace {

/// Iterates the lines of a byte buffer ('\n', '\r\n' or '\r' endings), with 1-based numbers.
class Lines {
public:
    explicit Lines(const std::vector<uint8_t>& b, size_t start = 0) : b_(b), pos_(start) {}
    bool next(std::string& line) {
        if (pos_ >= b_.size()) return false;
        size_t e = pos_;
        while (e < b_.size() && b_[e] != '\n' && b_[e] != '\r') ++e;
        line.assign(reinterpret_cast<const char*>(b_.data()) + pos_, e - pos_);
        if (e < b_.size() && b_[e] == '\r' && e + 1 < b_.size() && b_[e + 1] == '\n') ++e;
        pos_ = e + 1;
        ++number_;
        return true;
    }
    int64_t number() const { return number_; }
    size_t offset() const { return pos_; }
    /// Lines left, counted (an upper bound on what a declared count may claim).
    int64_t remaining() const {
        int64_t n = 0;
        for (size_t i = pos_; i < b_.size(); ++i) n += b_[i] == '\n';
        return n + 1;
    }

private:
    const std::vector<uint8_t>& b_;
    size_t pos_;
    int64_t number_ = 0;
};

/// Whitespace-separated numbers of one line (after a '#' comment is cut off when `comments`).
/// Returns false if a token is not a number.
bool numbers(std::string line, std::vector<double>& out, bool comments = true) {
    out.clear();
    if (comments) {
        auto h = line.find('#');
        if (h != std::string::npos) line.resize(h);
    }
    const char* p = line.c_str();
    const char* end = p + line.size();
    while (true) {
        while (p < end && std::isspace(static_cast<unsigned char>(*p))) ++p;
        if (p >= end) return true;
        if (*p == '\0') return false;
        char* q = nullptr;
        errno = 0;
        double v = std::strtod(p, &q);
        if (q == p || (q < end && !std::isspace(static_cast<unsigned char>(*q)))) return false;
        out.push_back(v);
        p = q;
    }
}

/// The whitespace-separated words of a line.
std::vector<std::string> words(const std::string& l) {
    std::vector<std::string> w;
    size_t i = 0;
    while (i < l.size()) {
        while (i < l.size() && std::isspace(static_cast<unsigned char>(l[i]))) ++i;
        size_t j = i;
        while (j < l.size() && !std::isspace(static_cast<unsigned char>(l[j]))) ++j;
        if (j > i) w.push_back(l.substr(i, j - i));
        i = j;
    }
    return w;
}

bool blank(const std::string& line) {
    for (char c : line) {
        if (c == '#') return true;
        if (!std::isspace(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

/// An integer count (non-negative, below `limit`) or -1.
int64_t as_count(double v, int64_t limit) {
    if (!(v >= 0) || v > double(limit) || v != std::floor(v)) return -1;
    return int64_t(v);
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw IoError(path + ": " + what); }

/// A count or index read as a number, printed as an integer when it is one ("353535235358", not
/// "353535235358.000000").
std::string count_text(double v) {
    if (std::isfinite(v) && v == std::floor(v) && std::abs(v) < 1e18) return std::to_string(static_cast<long long>(v));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

}  // namespace

RawGeometry parse_off(const std::vector<uint8_t>& bytes, const std::string& path) {
    Lines lines(bytes);
    std::string line;
    std::vector<double> v;
    std::vector<int64_t> poly;
    // Header keyword: [ST][C][N][4][n]OFF; we read 3-D, optionally with normals / colours.
    std::string first;
    while (lines.next(first) && blank(first)) {
    }
    size_t k = first.find_first_not_of(" \t");
    if (k == std::string::npos) fail(path, "empty file (expected an OFF header)");
    first = first.substr(k);
    size_t off = first.find("OFF");
    if (off == std::string::npos || off > 3) fail(path, "not an OFF file (expected a first line 'OFF', 'NOFF' or 'COFF')");
    const std::string prefix = first.substr(0, off);
    if (prefix.find('4') != std::string::npos || prefix.find('n') != std::string::npos)
        fail(path, "4-D / n-D OFF is not supported (expected 3-D OFF)");
    const bool has_normals = prefix.find('N') != std::string::npos;
    std::string rest = first.substr(off + 3);
    if (rest.rfind("BINARY", 0) == 0 || rest.find("BINARY") != std::string::npos)
        fail(path, "binary OFF is not supported (expected ASCII OFF)");
    // Counts: on the header line itself (ModelNet writes "OFF490 518 0") or on the next line.
    if (!numbers(rest, v) || v.empty()) {
        while (lines.next(line) && blank(line)) {
        }
        if (!numbers(line, v)) fail(path, "line " + std::to_string(lines.number()) + ": expected 'vertices faces edges'");
    }
    if (v.size() < 2) fail(path, "line " + std::to_string(lines.number()) + ": expected 'vertices faces edges' counts");
    const int64_t avail = lines.remaining();
    const int64_t nv = as_count(v[0], avail), nf = as_count(v[1], avail);
    if (nv < 0 || nf < 0 || nv + nf > avail)
        fail(path, "header declares " + count_text(v[0]) + " vertices and " + count_text(v[1]) + " faces, the file has " +
                       std::to_string(avail) + " more lines (expected counts that fit the file)");
    RawGeometry g;
    g.vertices.reserve(size_t(3 * nv));
    if (has_normals) g.normals.reserve(size_t(3 * nv));
    for (int64_t i = 0; i < nv; ++i) {
        do {
            if (!lines.next(line)) fail(path, "truncated: " + std::to_string(i) + " of " + std::to_string(nv) + " vertices");
        } while (blank(line));
        if (!numbers(line, v) || v.size() < (has_normals ? 6u : 3u))
            fail(path, "line " + std::to_string(lines.number()) + ": malformed vertex (expected x y z" +
                           (has_normals ? " nx ny nz)" : ")"));
        g.vertices.insert(g.vertices.end(), {v[0], v[1], v[2]});
        if (has_normals) g.normals.insert(g.normals.end(), {v[3], v[4], v[5]});
    }
    for (int64_t f = 0; f < nf; ++f) {
        do {
            if (!lines.next(line)) fail(path, "truncated: " + std::to_string(f) + " of " + std::to_string(nf) + " faces");
        } while (blank(line));
        if (!numbers(line, v) || v.empty()) fail(path, "line " + std::to_string(lines.number()) + ": malformed face");
        const int64_t n = as_count(v[0], 1 << 20);
        if (n < 3 || int64_t(v.size()) < n + 1)
            fail(path, "line " + std::to_string(lines.number()) + ": face needs a vertex count >= 3 and that many indices");
        poly.clear();
        for (int64_t j = 0; j < n; ++j) {
            const int64_t id = as_count(v[1 + j], nv - 1);
            if (id < 0)
                fail(path, "line " + std::to_string(lines.number()) + ": vertex index " + count_text(v[1 + j]) +
                               " out of range (expected 0.." + std::to_string(nv - 1) + ")");
            poly.push_back(id);
        }
        triangulate_polygon(g.vertices, poly, g.triangles);
    }
    return g;
}

RawGeometry parse_xyz(const std::vector<uint8_t>& bytes, const std::string& path, bool with_normals) {
    Lines lines(bytes);
    std::string line;
    std::vector<double> v;
    RawGeometry g;
    const size_t need = with_normals ? 6 : 3;
    while (lines.next(line)) {
        if (blank(line)) continue;
        if (!numbers(line, v) || v.size() < need)
            fail(path, "line " + std::to_string(lines.number()) + ": expected " +
                           (with_normals ? "'x y z nx ny nz'" : "'x y z'") + " numbers");
        g.vertices.insert(g.vertices.end(), {v[0], v[1], v[2]});
        if (with_normals) g.normals.insert(g.normals.end(), {v[3], v[4], v[5]});
    }
    return g;
}

RawGeometry parse_pts(const std::vector<uint8_t>& bytes, const std::string& path) {
    Lines lines(bytes);
    std::string line;
    std::vector<double> v;
    RawGeometry g;
    int64_t declared = -1;
    bool first = true;
    while (lines.next(line)) {
        if (blank(line)) continue;
        if (!numbers(line, v) || v.empty())
            fail(path, "line " + std::to_string(lines.number()) + ": expected 'x y z [intensity r g b]' numbers");
        if (first && v.size() == 1) {
            declared = as_count(v[0], std::numeric_limits<int64_t>::max() / 4);
            if (declared < 0) fail(path, "line " + std::to_string(lines.number()) + ": point count is not a count");
            first = false;
            continue;
        }
        first = false;
        if (v.size() < 3) fail(path, "line " + std::to_string(lines.number()) + ": expected 'x y z [intensity r g b]' numbers");
        g.vertices.insert(g.vertices.end(), {v[0], v[1], v[2]});
    }
    if (declared >= 0 && declared != int64_t(g.vertices.size() / 3))
        fail(path, "declares " + std::to_string(declared) + " points but holds " + std::to_string(g.vertices.size() / 3) +
                       " (expected the count on the first line to match)");
    return g;
}

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
            if (size == 4) {
                float f;
                std::memcpy(&f, p, 4);
                return f;
            } else {
                double d;
                std::memcpy(&d, p, 8);
                return d;
            }
        case 'I': {
            int64_t x = 0;
            if (size == 1)
                x = int8_t(p[0]);
            else if (size == 2) {
                int16_t t;
                std::memcpy(&t, p, 2);
                x = t;
            } else if (size == 4) {
                int32_t t;
                std::memcpy(&t, p, 4);
                x = t;
            } else
                std::memcpy(&x, p, 8);
            return double(x);
        }
        default: {
            uint64_t x = 0;
            if (size == 1)
                x = p[0];
            else if (size == 2) {
                uint16_t t;
                std::memcpy(&t, p, 2);
                x = t;
            } else if (size == 4) {
                uint32_t t;
                std::memcpy(&t, p, 4);
                x = t;
            } else
                std::memcpy(&x, p, 8);
            return double(x);
        }
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

namespace {
struct PlyProperty {
    std::string name;
    bool list = false;
    char count_type = 0, type = 0;  // 'c' 'C' 's' 'S' 'i' 'I' 'f' 'd'
};
struct PlyElement {
    std::string name;
    int64_t count = 0;
    std::vector<PlyProperty> props;
};

char ply_type(const std::string& t) {
    static const std::map<std::string, char> k = {{"char", 'c'},  {"int8", 'c'},    {"uchar", 'C'},  {"uint8", 'C'},
                                                  {"short", 's'}, {"int16", 's'},   {"ushort", 'S'}, {"uint16", 'S'},
                                                  {"int", 'i'},   {"int32", 'i'},   {"uint", 'I'},   {"uint32", 'I'},
                                                  {"float", 'f'}, {"float32", 'f'}, {"double", 'd'}, {"float64", 'd'}};
    auto it = k.find(t);
    return it == k.end() ? 0 : it->second;
}
int ply_size(char t) { return t == 'c' || t == 'C' ? 1 : t == 's' || t == 'S' ? 2 : t == 'd' ? 8 : 4; }

/// Parses the header; returns the elements and sets `format` and `body` (offset of the data).
std::vector<PlyElement> ply_header(const std::vector<uint8_t>& bytes, const std::string& path, std::string& format,
                                   size_t& body) {
    Lines lines(bytes);
    std::string line;
    if (!lines.next(line) || line != "ply") fail(path, "not a PLY file (expected a first line 'ply')");
    std::vector<PlyElement> elements;
    bool ended = false;
    while (lines.next(line)) {
        auto w = words(line);
        if (w.empty()) continue;
        if (w[0] == "end_header") {
            ended = true;
            break;
        }
        if (w[0] == "comment" || w[0] == "obj_info") continue;
        const std::string where = "PLY header line " + std::to_string(lines.number());
        if (w[0] == "format" && w.size() >= 2) {
            format = w[1];
        } else if (w[0] == "element" && w.size() == 3) {
            if (format.empty()) fail(path, where + ": 'element' before 'format'");
            char* e = nullptr;
            errno = 0;
            long long c = std::strtoll(w[2].c_str(), &e, 10);
            if (*e != '\0' || errno == ERANGE || c < 0 || c > (1ll << 31) - 1)
                fail(path, "PLY element '" + w[1] + "' count '" + w[2] + "' (expected 0..2^31-1)");
            elements.push_back({w[1], c, {}});
        } else if (w[0] == "property" && !elements.empty() && w.size() == 3 && ply_type(w[1])) {
            elements.back().props.push_back({w[2], false, 0, ply_type(w[1])});
        } else if (w[0] == "property" && !elements.empty() && w.size() == 5 && w[1] == "list" && ply_type(w[2]) &&
                   ply_type(w[3]) && w[2] != "float" && w[2] != "double" && w[2] != "float32" && w[2] != "float64") {
            elements.back().props.push_back({w[4], true, ply_type(w[2]), ply_type(w[3])});
        } else {
            fail(path, where + ": unknown or malformed '" + w[0] + "'");
        }
    }
    if (!ended) fail(path, "PLY header has no end_header");
    if (format != "ascii" && format != "binary_little_endian" && format != "binary_big_endian")
        fail(path, "PLY format '" + format + "' (expected ascii, binary_little_endian or binary_big_endian)");
    body = lines.offset();
    const size_t left = bytes.size() - std::min(bytes.size(), body);
    // ASCII values take at least 2 bytes (digit + separator); binary ones their size.
    long double need = 0;
    for (const auto& el : elements)
        for (const auto& p : el.props)
            need += (long double)el.count * (format == "ascii" ? 2 : ply_size(p.list ? p.count_type : p.type));
    if (need > (long double)left + 1)
        fail(path, "PLY header declares more elements than the file holds (" + std::to_string(left) +
                       " bytes of data; expected a complete file)");
    return elements;
}

/// Reads values one at a time from the body (ASCII tokens or binary of either endianness).
class PlyReader {
public:
    PlyReader(const std::vector<uint8_t>& b, size_t pos, const std::string& format, const std::string& path)
        : b_(b), pos_(pos), ascii_(format == "ascii"), big_(format == "binary_big_endian"), path_(path) {}
    double value(char type) {
        if (ascii_) {
            while (pos_ < b_.size() && std::isspace(b_[pos_])) ++pos_;
            size_t e = pos_;
            while (e < b_.size() && !std::isspace(b_[e])) ++e;
            if (e == pos_) fail(path_, "truncated PLY data (expected more values)");
            const std::string tok(reinterpret_cast<const char*>(b_.data()) + pos_, e - pos_);
            pos_ = e;
            char* end = nullptr;
            const double v = std::strtod(tok.c_str(), &end);
            if (*end != '\0') fail(path_, "PLY value '" + tok.substr(0, 20) + "' is not a number");
            return v;
        }
        const int n = ply_size(type);
        if (pos_ + size_t(n) > b_.size()) fail(path_, "truncated PLY data (expected more values)");
        uint8_t raw[8];
        for (int i = 0; i < n; ++i) raw[i] = b_[pos_ + size_t(big_ ? n - 1 - i : i)];
        pos_ += size_t(n);
        switch (type) {
            case 'c':
                return double(int8_t(raw[0]));
            case 'C':
                return double(raw[0]);
            case 's': {
                int16_t v;
                std::memcpy(&v, raw, 2);
                return v;
            }
            case 'S': {
                uint16_t v;
                std::memcpy(&v, raw, 2);
                return v;
            }
            case 'i': {
                int32_t v;
                std::memcpy(&v, raw, 4);
                return v;
            }
            case 'I': {
                uint32_t v;
                std::memcpy(&v, raw, 4);
                return v;
            }
            case 'f': {
                float v;
                std::memcpy(&v, raw, 4);
                return v;
            }
            default: {
                double v;
                std::memcpy(&v, raw, 8);
                return v;
            }
        }
    }

private:
    const std::vector<uint8_t>& b_;
    size_t pos_;
    bool ascii_, big_;
    std::string path_;
};
}  // namespace

void check_ply(const std::vector<uint8_t>& bytes, const std::string& path) {
    std::string format;
    size_t body = 0;
    ply_header(bytes, path, format, body);
}

RawGeometry parse_ply(const std::vector<uint8_t>& bytes, const std::string& path) {
    std::string format;
    size_t body = 0;
    const auto elements = ply_header(bytes, path, format, body);
    PlyReader rd(bytes, body, format, path);
    RawGeometry g;
    int64_t nv = -1;
    for (const auto& el : elements) {
        int px = -1, py = -1, pz = -1, nx = -1, ny = -1, nz = -1, pf = -1;
        for (size_t i = 0; i < el.props.size(); ++i) {
            const auto& n = el.props[i].name;
            const int k = int(i);
            if (!el.props[i].list) {
                if (n == "x") px = k;
                if (n == "y") py = k;
                if (n == "z") pz = k;
                if (n == "nx") nx = k;
                if (n == "ny") ny = k;
                if (n == "nz") nz = k;
            } else if (n == "vertex_indices" || n == "vertex_index") {
                pf = k;
            }
        }
        const bool is_vertex = el.name == "vertex", is_face = el.name == "face";
        if (is_vertex && (px < 0 || py < 0 || pz < 0)) fail(path, "PLY vertex element has no x, y and z properties");
        const bool normals = is_vertex && nx >= 0 && ny >= 0 && nz >= 0;
        if (is_face && pf >= 0 && nv < 0) fail(path, "PLY faces come before the vertices");
        std::vector<double> vals(el.props.size());
        std::vector<int64_t> poly;
        for (int64_t e = 0; e < el.count; ++e) {
            for (size_t i = 0; i < el.props.size(); ++i) {
                const auto& p = el.props[i];
                if (!p.list) {
                    vals[i] = rd.value(p.type);
                    continue;
                }
                const double c = rd.value(p.count_type);
                if (!(c >= 0 && c <= 65536 && c == std::floor(c)))
                    fail(path, "PLY list length " + count_text(c) + " (expected 0..65536)");
                const bool keep = is_face && int(i) == pf;
                poly.clear();
                for (int64_t k = 0; k < int64_t(c); ++k) {
                    const double v = rd.value(p.type);
                    if (!keep) continue;
                    if (!(v >= 0 && v < double(nv) && v == std::floor(v)))
                        fail(path, "PLY face " + std::to_string(e) + ": vertex index " + count_text(v) +
                                       " out of range (expected 0.." + std::to_string(nv - 1) + ")");
                    poly.push_back(int64_t(v));
                }
                if (keep) {
                    if (poly.size() < 3) fail(path, "PLY face " + std::to_string(e) + " has fewer than 3 vertices");
                    triangulate_polygon(g.vertices, poly, g.triangles);
                }
            }
            if (is_vertex) {
                g.vertices.insert(g.vertices.end(), {vals[size_t(px)], vals[size_t(py)], vals[size_t(pz)]});
                if (normals) g.normals.insert(g.normals.end(), {vals[size_t(nx)], vals[size_t(ny)], vals[size_t(nz)]});
            }
        }
        if (is_vertex) nv = el.count;
    }
    if (nv < 0) fail(path, "PLY file has no vertex element");
    return g;
}

RawGeometry parse_stl(const std::vector<uint8_t>& bytes, const std::string& path) {
    RawGeometry g;
    // Binary unless it starts with "solid" and has an ASCII facet (binary headers may start with "solid").
    bool ascii = false;
    if (bytes.size() >= 5 && std::memcmp(bytes.data(), "solid", 5) == 0) {
        const std::string head(reinterpret_cast<const char*>(bytes.data()), std::min<size_t>(bytes.size(), 1024));
        uint32_t n = 0;
        if (bytes.size() >= 84) std::memcpy(&n, bytes.data() + 80, 4);
        const bool binary_size = bytes.size() >= 84 && uint64_t(bytes.size()) == 84 + 50ull * n;
        ascii = !binary_size && (head.find("facet") != std::string::npos || head.find("endsolid") != std::string::npos);
    }
    if (!ascii) {
        if (bytes.size() < 84) fail(path, "truncated STL (expected an 80-byte header and a triangle count)");
        uint32_t n;
        std::memcpy(&n, bytes.data() + 80, 4);
        if (uint64_t(bytes.size()) < 84 + 50ull * n)
            fail(path, "binary STL declares " + std::to_string(n) + " triangles, the file holds " +
                           std::to_string((bytes.size() - 84) / 50) + " (expected a complete file)");
        g.vertices.resize(size_t(9) * n);
        g.triangles.resize(size_t(3) * n);
        for (uint32_t t = 0; t < n; ++t) {
            const uint8_t* p = bytes.data() + 84 + size_t(50) * t + 12;  // skip the facet normal
            for (int k = 0; k < 9; ++k) {
                float f;
                std::memcpy(&f, p + 4 * k, 4);
                g.vertices[size_t(9) * t + size_t(k)] = f;
            }
            for (int k = 0; k < 3; ++k) g.triangles[size_t(3) * t + size_t(k)] = int64_t(3) * t + k;
        }
        return g;
    }
    // ASCII: facet normal n n n / outer loop / vertex x y z (3 or more) / endloop / endfacet.
    Lines lines(bytes);
    std::string line;
    std::vector<double> v;
    std::vector<double> loop;
    bool in_loop = false;
    while (lines.next(line)) {
        size_t k = line.find_first_not_of(" \t");
        if (k == std::string::npos) continue;
        const std::string t = line.substr(k);
        auto starts = [&](const char* w) { return t.rfind(w, 0) == 0; };
        if (starts("vertex")) {
            if (!in_loop) fail(path, "line " + std::to_string(lines.number()) + ": vertex outside 'outer loop'");
            if (!numbers(t.substr(6), v, false) || v.size() != 3)
                fail(path, "line " + std::to_string(lines.number()) + ": malformed vertex (expected 'vertex x y z')");
            loop.insert(loop.end(), v.begin(), v.end());
        } else if (starts("outer loop")) {
            if (in_loop) fail(path, "line " + std::to_string(lines.number()) + ": nested 'outer loop'");
            in_loop = true;
            loop.clear();
        } else if (starts("endloop")) {
            if (!in_loop || loop.size() < 9)
                fail(path, "line " + std::to_string(lines.number()) + ": a loop needs at least 3 vertices");
            const int64_t base = int64_t(g.vertices.size() / 3), n = int64_t(loop.size() / 3);
            g.vertices.insert(g.vertices.end(), loop.begin(), loop.end());
            for (int64_t i = 2; i < n; ++i) g.triangles.insert(g.triangles.end(), {base, base + i - 1, base + i});
            in_loop = false;
        } else if (starts("solid") || starts("facet") || starts("endfacet") || starts("endsolid")) {
            continue;
        } else {
            fail(path, "line " + std::to_string(lines.number()) + ": unexpected '" + t.substr(0, 20) + "' in an ASCII STL");
        }
    }
    if (in_loop) fail(path, "truncated ASCII STL (a loop is not closed)");
    return g;
}

namespace {
/// Appends the raw bytes of a little-endian host's values (x86 / ARM).
void append_bytes(std::vector<uint8_t>& out, const void* p, size_t bytes) {
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + bytes);
}
}  // namespace

std::vector<uint8_t> serialize_points(const std::string& ext, const std::vector<double>& points,
                                      const std::vector<double>& normals) {
    const size_t n = points.size() / 3;
    const bool has_n = !normals.empty() && normals.size() == points.size();
    std::string head;
    std::vector<uint8_t> out;
    auto append = [&](const void* p, size_t bytes) { append_bytes(out, p, bytes); };
    if (ext == ".ply") {
        head = "ply\nformat binary_little_endian 1.0\ncomment written by mash\nelement vertex " + std::to_string(n) +
               "\nproperty double x\nproperty double y\nproperty double z\n";
        if (has_n) head += "property double nx\nproperty double ny\nproperty double nz\n";
        head += "end_header\n";
        out.reserve(head.size() + n * (has_n ? 48 : 24));
        append(head.data(), head.size());
        for (size_t i = 0; i < n; ++i) {  // x86/ARM hosts are little-endian
            append(&points[3 * i], 24);
            if (has_n) append(&normals[3 * i], 24);
        }
        return out;
    }
    if (ext == ".pcd") {
        head = std::string("# .PCD v0.7 - Point Cloud Data file format (written by mash)\nVERSION 0.7\n") +
               (has_n ? "FIELDS x y z normal_x normal_y normal_z\nSIZE 4 4 4 4 4 4\nTYPE F F F F F F\nCOUNT 1 1 1 1 1 1\n"
                      : "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nCOUNT 1 1 1\n") +
               "WIDTH " + std::to_string(n) + "\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS " + std::to_string(n) +
               "\nDATA binary\n";
        append(head.data(), head.size());
        for (size_t i = 0; i < n; ++i) {
            float v[6];
            for (int k = 0; k < 3; ++k) v[k] = float(points[3 * i + k]);
            if (has_n)
                for (int k = 0; k < 3; ++k) v[3 + k] = float(normals[3 * i + k]);
            append(v, has_n ? 24 : 12);
        }
        return out;
    }
    if (ext != ".xyz" && ext != ".xyzn" && ext != ".pts")
        throw IoError("serialize_points: unsupported extension '" + ext + "' (expected .ply .pcd .xyz .xyzn .pts)");
    std::string text;
    text.reserve(n * (ext == ".xyzn" ? 140 : 70));
    if (ext == ".pts") text += std::to_string(n) + "\n";
    char buf[160];
    for (size_t i = 0; i < n; ++i) {
        int len = std::snprintf(buf, sizeof buf, "%.17g %.17g %.17g", points[3 * i], points[3 * i + 1], points[3 * i + 2]);
        text.append(buf, size_t(len));
        if (ext == ".xyzn") {
            const double* nn = has_n ? &normals[3 * i] : nullptr;
            len = std::snprintf(buf, sizeof buf, " %.17g %.17g %.17g", nn ? nn[0] : 0.0, nn ? nn[1] : 0.0, nn ? nn[2] : 0.0);
            text.append(buf, size_t(len));
        }
        text += '\n';
    }
    return std::vector<uint8_t>(text.begin(), text.end());
}

std::vector<uint8_t> serialize_mesh(const std::string& ext, const std::vector<double>& vertices,
                                    const std::vector<int64_t>& triangles) {
    const size_t V = vertices.size() / 3, F = triangles.size() / 3;
    for (int64_t t : triangles)
        if (t < 0 || size_t(t) >= V || t > INT32_MAX)
            throw IoError("serialize_mesh: triangle index " + std::to_string(t) + " out of range (expected < " +
                          std::to_string(V) + ")");
    auto face_normal = [&](size_t f, double n[3]) {  // (b − a) × (c − a): length = 2 × area
        const double* a = &vertices[3 * size_t(triangles[3 * f])];
        const double* b = &vertices[3 * size_t(triangles[3 * f + 1])];
        const double* c = &vertices[3 * size_t(triangles[3 * f + 2])];
        const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        n[0] = u[1] * w[2] - u[2] * w[1];
        n[1] = u[2] * w[0] - u[0] * w[2];
        n[2] = u[0] * w[1] - u[1] * w[0];
    };
    std::vector<double> vn(3 * V, 0.0);
    for (size_t f = 0; f < F; ++f) {
        double n[3];
        face_normal(f, n);
        for (int k = 0; k < 3; ++k)
            for (int d = 0; d < 3; ++d) vn[3 * size_t(triangles[3 * f + size_t(k)]) + size_t(d)] += n[d];
    }
    for (size_t v = 0; v < V; ++v) {
        const double l = std::sqrt(vn[3 * v] * vn[3 * v] + vn[3 * v + 1] * vn[3 * v + 1] + vn[3 * v + 2] * vn[3 * v + 2]);
        for (int d = 0; d < 3; ++d) vn[3 * v + size_t(d)] = l > 0 ? vn[3 * v + size_t(d)] / l : 0.0;
    }
    std::vector<uint8_t> out;
    auto append = [&](const void* p, size_t bytes) { append_bytes(out, p, bytes); };
    if (ext == ".ply") {
        const std::string head = "ply\nformat binary_little_endian 1.0\ncomment written by mash\nelement vertex " +
                                 std::to_string(V) +
                                 "\nproperty double x\nproperty double y\nproperty double z\nproperty double nx\n"
                                 "property double ny\nproperty double nz\nelement face " +
                                 std::to_string(F) + "\nproperty list uchar int vertex_indices\nend_header\n";
        out.reserve(head.size() + V * 48 + F * 13);
        append(head.data(), head.size());
        for (size_t v = 0; v < V; ++v) {
            append(&vertices[3 * v], 24);
            append(&vn[3 * v], 24);
        }
        for (size_t f = 0; f < F; ++f) {
            const uint8_t three = 3;
            const int32_t idx[3] = {int32_t(triangles[3 * f]), int32_t(triangles[3 * f + 1]), int32_t(triangles[3 * f + 2])};
            append(&three, 1);
            append(idx, 12);
        }
        return out;
    }
    if (ext == ".stl") {
        char header[80] = "binary STL written by mash";
        append(header, 80);
        const uint32_t n = uint32_t(F);
        append(&n, 4);
        for (size_t f = 0; f < F; ++f) {
            double nd[3];
            face_normal(f, nd);
            const double l = std::sqrt(nd[0] * nd[0] + nd[1] * nd[1] + nd[2] * nd[2]);
            float rec[12];
            for (int d = 0; d < 3; ++d) rec[d] = l > 0 ? float(nd[d] / l) : 0.0f;
            for (int k = 0; k < 3; ++k)
                for (int d = 0; d < 3; ++d)
                    rec[3 + 3 * k + d] = float(vertices[3 * size_t(triangles[3 * f + size_t(k)]) + size_t(d)]);
            append(rec, 48);
            const uint16_t attr = 0;
            append(&attr, 2);
        }
        return out;
    }
    if (ext != ".obj" && ext != ".off")
        throw IoError("serialize_mesh: unsupported extension '" + ext + "' (expected .ply .obj .off .stl)");
    std::string text;
    char buf[200];
    if (ext == ".off")
        text = "OFF\n" + std::to_string(V) + " " + std::to_string(F) + " 0\n";
    else
        text = "# written by mash\n";
    for (size_t v = 0; v < V; ++v) {
        const int len = std::snprintf(buf, sizeof buf, ext == ".obj" ? "v %.17g %.17g %.17g\n" : "%.17g %.17g %.17g\n",
                                      vertices[3 * v], vertices[3 * v + 1], vertices[3 * v + 2]);
        text.append(buf, size_t(len));
    }
    if (ext == ".obj")
        for (size_t v = 0; v < V; ++v) {
            const int len = std::snprintf(buf, sizeof buf, "vn %.9g %.9g %.9g\n", vn[3 * v], vn[3 * v + 1], vn[3 * v + 2]);
            text.append(buf, size_t(len));
        }
    for (size_t f = 0; f < F; ++f) {
        const long long a = triangles[3 * f], b = triangles[3 * f + 1], c = triangles[3 * f + 2];
        const int len = ext == ".obj" ? std::snprintf(buf, sizeof buf, "f %lld//%lld %lld//%lld %lld//%lld\n", a + 1, a + 1,
                                                      b + 1, b + 1, c + 1, c + 1)
                                      : std::snprintf(buf, sizeof buf, "3 %lld %lld %lld\n", a, b, c);
        text.append(buf, size_t(len));
    }
    return std::vector<uint8_t>(text.begin(), text.end());
}

}  // namespace mash::io::formats
