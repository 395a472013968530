// SPDX-License-Identifier: MIT
// Our writers of point clouds (.ply .pcd .xyz .xyzn .pts) and meshes (.ply .obj .off .stl).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/io/geometry_formats.h"
#include "mash/io/text_scan.h"

namespace mash::io {

using namespace detail;

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

}  // namespace mash::io
