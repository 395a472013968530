// SPDX-License-Identifier: MIT
// STL meshes (binary and ASCII).
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

}  // namespace mash::io
