// SPDX-License-Identifier: MIT
#include "mash/io/point_formats.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>

#include "mash/core/errors.h"

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

}  // namespace

RawGeometry parse_off(const std::vector<uint8_t>& bytes, const std::string& path) {
    Lines lines(bytes);
    std::string line;
    std::vector<double> v;
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
        fail(path, "header declares " + std::to_string(v[0]) + " vertices and " + std::to_string(v[1]) + " faces, the file has " +
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
        int64_t idx[3];
        for (int64_t j = 0; j < n; ++j) {
            const int64_t id = as_count(v[1 + j], nv - 1);
            if (id < 0)
                fail(path, "line " + std::to_string(lines.number()) + ": vertex index " + std::to_string(v[1 + j]) +
                               " out of range (expected 0.." + std::to_string(nv - 1) + ")");
            if (j < 2) {
                idx[j] = id;
                continue;
            }
            idx[2] = id;
            g.triangles.insert(g.triangles.end(), {idx[0], idx[1], idx[2]});
            idx[1] = id;
        }
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
            if (size == 1) x = int8_t(p[0]);
            else if (size == 2) { int16_t t; std::memcpy(&t, p, 2); x = t; }
            else if (size == 4) { int32_t t; std::memcpy(&t, p, 4); x = t; }
            else std::memcpy(&x, p, 8);
            return double(x);
        }
        default: {
            uint64_t x = 0;
            if (size == 1) x = p[0];
            else if (size == 2) { uint16_t t; std::memcpy(&t, p, 2); x = t; }
            else if (size == 4) { uint32_t t; std::memcpy(&t, p, 4); x = t; }
            else std::memcpy(&x, p, 8);
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
    auto words = [](const std::string& l) {
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
    };
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
        if (key == "FIELDS") fields.assign(w.begin() + 1, w.end());
        else if (key == "SIZE") { sizes.clear(); for (size_t i = 1; i < w.size(); ++i) sizes.push_back(int(integer(w[i], "SIZE"))); }
        else if (key == "TYPE") { types.clear(); for (size_t i = 1; i < w.size(); ++i) types.push_back(w[i].size() == 1 ? w[i][0] : '?'); }
        else if (key == "COUNT") { counts.clear(); for (size_t i = 1; i < w.size(); ++i) counts.push_back(int(std::min<int64_t>(integer(w[i], "COUNT"), 1 << 20))); }
        else if (key == "WIDTH" && w.size() == 2) width = integer(w[1], "WIDTH");
        else if (key == "HEIGHT" && w.size() == 2) height = integer(w[1], "HEIGHT");
        else if (key == "POINTS" && w.size() == 2) points = integer(w[1], "POINTS");
        else if (key == "DATA" && w.size() == 2) data = w[1];
        else fail(path, "header line " + std::to_string(lines.number()) + ": unknown or malformed '" + key + "' (expected a PCD header)");
    }
    const size_t nf = fields.size();
    if (nf == 0) fail(path, "PCD header has no FIELDS");
    if (counts.empty()) counts.assign(nf, 1);
    if (sizes.size() != nf || types.size() != nf || counts.size() != nf)
        fail(path, "PCD header: FIELDS, SIZE, TYPE and COUNT disagree in length");
    if (points < 0) {
        if (width < 0) fail(path, "PCD header has neither POINTS nor WIDTH");
        if (height > 0 && width > std::numeric_limits<int64_t>::max() / height) fail(path, "PCD header: WIDTH x HEIGHT overflows");
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
        if (points > int64_t(left / 2 + 1)) fail(path, "PCD declares " + std::to_string(points) + " points, more than the file holds");
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
            fail(path, "PCD declares " + std::to_string(points) + " points of " + std::to_string(record) + " bytes, the file has " +
                           std::to_string(left) + " bytes of data");
        const uint8_t* base = bytes.data() + body;
        for (int64_t p = 0; p < points; ++p)
            for (int k = 0; k < nwant; ++k) {
                const size_t f = size_t(want[k]);
                (k < 3 ? g.vertices : g.normals).push_back(read_scalar(base + size_t(p) * record + offset[f], types[f], sizes[f]));
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

void check_ply(const std::vector<uint8_t>& bytes, const std::string& path) {
    Lines lines(bytes);
    std::string line;
    if (!lines.next(line) || line != "ply") fail(path, "not a PLY file (expected a first line 'ply')");
    std::string format;
    struct Element {
        std::string name;
        int64_t count = 0;
        int64_t min_bytes = 0;  ///< binary: bytes per element at least; ASCII: values per element at least
    };
    std::vector<Element> elements;
    static const std::map<std::string, int> kSize = {{"char", 1},  {"uchar", 1},  {"int8", 1},    {"uint8", 1},
                                                     {"short", 2}, {"ushort", 2}, {"int16", 2},   {"uint16", 2},
                                                     {"int", 4},   {"uint", 4},   {"int32", 4},   {"uint32", 4},
                                                     {"float", 4}, {"float32", 4}, {"double", 8}, {"float64", 8}};
    auto words = [](const std::string& l) {
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
    };
    bool ended = false;
    while (lines.next(line)) {
        auto w = words(line);
        if (w.empty()) continue;
        if (w[0] == "end_header") {
            ended = true;
            break;
        }
        if (w[0] == "comment" || w[0] == "obj_info") continue;
        if (w[0] == "format" && w.size() >= 2) format = w[1];
        else if (w[0] == "element" && w.size() == 3) {
            if (format.empty()) fail(path, "PLY header: 'element' before 'format'");
            char* e = nullptr;
            errno = 0;
            long long c = std::strtoll(w[2].c_str(), &e, 10);
            if (*e != '\0' || errno == ERANGE || c < 0 || c > (1ll << 31) - 1)
                fail(path, "PLY element '" + w[1] + "' count '" + w[2] + "' (expected 0..2^31-1)");
            elements.push_back({w[1], c, 0});
        } else if (w[0] == "property" && !elements.empty()) {
            if (w.size() == 3 && kSize.count(w[1])) {
                elements.back().min_bytes += format == "ascii" ? 1 : kSize.at(w[1]);
            } else if (w.size() == 5 && w[1] == "list" && kSize.count(w[2]) && kSize.count(w[3])) {
                elements.back().min_bytes += format == "ascii" ? 1 : kSize.at(w[2]);
            } else {
                fail(path, "PLY header line " + std::to_string(lines.number()) + ": malformed property");
            }
        } else {
            fail(path, "PLY header line " + std::to_string(lines.number()) + ": unknown '" + w[0] + "'");
        }
    }
    if (!ended) fail(path, "PLY header has no end_header");
    if (format != "ascii" && format != "binary_little_endian" && format != "binary_big_endian")
        fail(path, "PLY format '" + format + "' (expected ascii, binary_little_endian or binary_big_endian)");
    const size_t left = bytes.size() - std::min(bytes.size(), lines.offset());
    // ASCII values take at least 2 bytes (digit + separator); binary ones their size.
    long double need = 0;
    for (const auto& el : elements) need += (long double)el.count * el.min_bytes * (format == "ascii" ? 2 : 1);
    if (need > (long double)left + 1)
        fail(path, "PLY header declares more elements than the file holds (" + std::to_string(left) +
                       " bytes of data; expected a complete file)");
}

void check_stl(const std::vector<uint8_t>& bytes, const std::string& path) {
    const bool ascii_start = bytes.size() >= 5 && std::memcmp(bytes.data(), "solid", 5) == 0;
    if (ascii_start) {
        // ASCII STL, unless it is a binary file whose 80-byte header happens to start with "solid".
        const std::string head(reinterpret_cast<const char*>(bytes.data()), std::min<size_t>(bytes.size(), 512));
        if (head.find("facet") != std::string::npos || bytes.size() < 84) return;
    }
    if (bytes.size() < 84) fail(path, "truncated STL (expected an 80-byte header and a triangle count)");
    uint32_t n;
    std::memcpy(&n, bytes.data() + 80, 4);
    if (uint64_t(bytes.size()) < 84 + 50ull * n)
        fail(path, "binary STL declares " + std::to_string(n) + " triangles, the file holds " +
                       std::to_string((bytes.size() - 84) / 50) + " (expected a complete file)");
}

}  // namespace mash::io::formats
