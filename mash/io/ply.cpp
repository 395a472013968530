// SPDX-License-Identifier: MIT
// PLY meshes and point clouds (ascii, binary little / big endian), strict header checks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "mash/io/geometry_formats.h"
#include "mash/io/polygon.h"
#include "mash/io/text_scan.h"

namespace mash::io {

using namespace detail;

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
            case 's':
                return detail::load<int16_t>(raw);
            case 'S':
                return detail::load<uint16_t>(raw);
            case 'i':
                return detail::load<int32_t>(raw);
            case 'I':
                return detail::load<uint32_t>(raw);
            case 'f':
                return detail::load<float>(raw);
            default:
                return detail::load<double>(raw);
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

}  // namespace mash::io
