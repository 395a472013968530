// SPDX-License-Identifier: MIT
// OFF / NOFF / COFF / CNOFF meshes and point sets (ASCII).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mash/io/geometry_formats.h"
#include "mash/io/polygon.h"
#include "mash/io/text_scan.h"

namespace mash::io {

using namespace detail;

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

}  // namespace mash::io
