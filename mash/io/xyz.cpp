// SPDX-License-Identifier: MIT
// XYZ / XYZN point lists and PTS scans.
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

}  // namespace mash::io
