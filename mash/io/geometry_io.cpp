// SPDX-License-Identifier: MIT
#include "mash/io/geometry_io.h"

#include <unistd.h>

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <sstream>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/npy.h"
#include "mash/io/geometry_formats.h"
#include "mash/io/gltf.h"
#include "mash/io/polygon.h"

namespace mash::io {
namespace fs = std::filesystem;
namespace {

void check_finite(const PointCloud& pc, const std::string& path) {
    for (size_t i = 0; i < pc.points.size(); ++i)
        if (!std::isfinite(pc.points[i]))
            throw IoError(path + ": point " + std::to_string(i / 3) + " has a non-finite coordinate (expected finite x y z)");
}

PointCloud points_from_array(const formats::NpyArray& a, const std::string& path) {
    if (a.shape.size() != 2 || a.shape[1] != 3 || (a.kind != 'f' && a.kind != 'i'))
        throw IoError(path + ": expected a numeric array of shape [P,3]");
    PointCloud pc;
    pc.points = a.to_double();
    return pc;
}

/// Wavefront OBJ: `v` and `f` lines only (polygons triangulated by triangulate_polygon; v, v/vt, v//vn, v/vt/vn and
/// negative indices). Materials, textures and groups are ignored, so a missing .mtl (common in
/// exported datasets) does not matter.
RawGeometry read_obj(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw IoError(path + ": cannot open file");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Byte-order marks: UTF-8 is skipped; UTF-16 (either byte order) is narrowed to its ASCII
    // characters (an OBJ's numbers and keywords are ASCII; other characters only occur in names).
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    if (text.size() >= 3 && byte(0) == 0xEF && byte(1) == 0xBB && byte(2) == 0xBF) {
        text.erase(0, 3);
    } else if (text.size() >= 2 && ((byte(0) == 0xFE && byte(1) == 0xFF) || (byte(0) == 0xFF && byte(1) == 0xFE))) {
        const bool big = byte(0) == 0xFE;
        if (text.size() % 2) throw IoError(path + ": truncated UTF-16 OBJ (odd byte count; expected whole 16-bit characters)");
        std::string narrow;
        narrow.reserve(text.size() / 2);
        for (size_t i = 2; i + 1 < text.size(); i += 2) {
            const unsigned unit = big ? (byte(i) << 8 | byte(i + 1)) : (byte(i + 1) << 8 | byte(i));
            narrow.push_back(unit < 128 ? char(unit) : '?');
        }
        text = std::move(narrow);
    }
    std::istringstream f(text);
    RawGeometry g;
    std::string line;
    std::vector<int64_t> poly;
    int64_t lineno = 0;
    while (std::getline(f, line)) {
        ++lineno;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.size() < 2) continue;
        const long nv = long(g.vertices.size() / 3);
        if (line[0] == 'v' && (line[1] == ' ' || line[1] == '\t')) {
            std::istringstream ls(line.substr(2));
            double x, y, z;
            if (!(ls >> x >> y >> z)) throw IoError(path + ": malformed vertex on line " + std::to_string(lineno));
            g.vertices.insert(g.vertices.end(), {x, y, z});
        } else if (line[0] == 'f' && (line[1] == ' ' || line[1] == '\t')) {
            std::istringstream ls(line.substr(2));
            std::string tok;
            poly.clear();
            while (ls >> tok) {
                long idx = std::strtol(tok.c_str(), nullptr, 10);
                if (idx < 0) idx += nv + 1;
                if (idx < 1 || idx > nv)
                    throw IoError(path + ": face on line " + std::to_string(lineno) + " references a missing vertex");
                poly.push_back(idx - 1);
            }
            if (poly.size() >= 3) triangulate_polygon(g.vertices, poly, g.triangles);
        }
    }
    if (g.vertices.empty()) throw IoError(path + ": cannot read mesh (no vertices in the OBJ file)");
    return g;
}

/// Every mesh / point format with our own reader, by extension; false if `ext` is none of them.
bool read_geometry(const std::string& path, const std::string& ext, RawGeometry& g) {
    if (ext == ".obj")
        g = read_obj(path);
    else if (ext == ".off")
        g = parse_off(read_file(path), path);
    else if (ext == ".ply")
        g = parse_ply(read_file(path), path);
    else if (ext == ".stl")
        g = parse_stl(read_file(path), path);
    else if (ext == ".xyz" || ext == ".xyzn")
        g = parse_xyz(read_file(path), path, ext == ".xyzn");
    else if (ext == ".pts")
        g = parse_pts(read_file(path), path);
    else if (ext == ".pcd")
        g = parse_pcd(read_file(path), path);
    else if (ext == ".glb" || ext == ".gltf") {
        GltfReport report;
        g = read_gltf(path, &report);
        for (const auto& n : report.notes) std::fprintf(stderr, "note: %s: %s\n", path.c_str(), n.c_str());
    } else {
        return false;
    }
    return true;
}

}  // namespace

/// Uniform-by-area surface samples with per-sample face normals (deterministic for a seed).
PointCloud sample_mesh_surface(const std::vector<double>& vertices, const std::vector<int64_t>& triangles, int64_t n,
                               uint64_t seed, const std::string& path) {
    using V3 = Eigen::Map<const Eigen::Vector3d>;
    const size_t nv = vertices.size() / 3, nf = triangles.size() / 3;
    auto vertex = [&](size_t f, int k) { return V3(vertices.data() + 3 * size_t(triangles[3 * f + size_t(k)])); };
    std::vector<double> cum(nf);
    double total = 0;
    for (size_t f = 0; f < nf; ++f) {
        for (int k = 0; k < 3; ++k)
            if (triangles[3 * f + size_t(k)] < 0 || size_t(triangles[3 * f + size_t(k)]) >= nv)
                throw IoError(path + ": face " + std::to_string(f) + " references a missing vertex");
        Eigen::Vector3d e1 = vertex(f, 1) - vertex(f, 0), e2 = vertex(f, 2) - vertex(f, 0);
        double area = 0.5 * e1.cross(e2).norm();
        if (!std::isfinite(area)) throw IoError(path + ": mesh has non-finite vertex coordinates");
        total += area;
        cum[f] = total;
    }
    if (!(total > 0)) throw IoError(path + ": mesh has zero surface area (all faces degenerate)");
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> U(0.0, 1.0);
    PointCloud pc;
    pc.from_mesh = true;
    pc.points.resize(3 * n);
    pc.normals.resize(3 * n);
    for (int64_t i = 0; i < n; ++i) {
        double t = U(rng) * total;
        size_t f = std::min(size_t(std::lower_bound(cum.begin(), cum.end(), t) - cum.begin()), nf - 1);
        double r1 = std::sqrt(U(rng)), r2 = U(rng);
        const Eigen::Vector3d a = vertex(f, 0), b = vertex(f, 1), c = vertex(f, 2);
        Eigen::Vector3d p = (1 - r1) * a + r1 * (1 - r2) * b + r1 * r2 * c;
        Eigen::Vector3d nrm = (b - a).cross(c - a);
        double nn = nrm.norm();
        if (nn > 0) nrm /= nn;
        for (int k = 0; k < 3; ++k) {
            pc.points[3 * i + k] = p[k];
            pc.normals[3 * i + k] = nrm[k];
        }
    }
    return pc;
}

PointCloud load_points(const std::string& path, int64_t num_samples, uint64_t seed) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path + ": no such file");
    if (fs::is_directory(path, ec)) throw IoError(path + ": is a directory, expected a mesh or point cloud file");
    const std::string ext = lower_extension(path);
    PointCloud pc;
    if (ext == ".npy") {
        auto bytes = read_file(path);
        pc = points_from_array(formats::parse_npy(bytes.data(), bytes.size(), path), path);
    } else if (ext == ".npz") {
        auto bytes = read_file(path);
        auto arrays = formats::parse_npz(bytes.data(), bytes.size(), path);
        const formats::NpyArray* found = nullptr;
        for (const auto& [name, arr] : arrays)
            if (name == "points" || name == "arr_0" || (arrays.size() == 1)) {
                found = &arr;
                break;
            }
        if (!found) throw IoError(path + ": expected an array named 'points' or 'arr_0' of shape [P,3]");
        pc = points_from_array(*found, path);
    } else if (RawGeometry g; read_geometry(path, ext, g)) {
        if (!g.triangles.empty()) {  // a mesh: sampled uniformly by area
            if (num_samples < 1) throw IoError(path + ": number of surface samples must be >= 1");
            pc = sample_mesh_surface(g.vertices, g.triangles, num_samples, seed, path);
        } else {  // a point cloud (a PLY / OFF / PCD one keeps its normals)
            pc.points = std::move(g.vertices);
            pc.normals = std::move(g.normals);
        }
    } else {
        throw IoError(path + ": unsupported extension '" + ext +
                      "' (expected .ply .obj .off .stl .glb .gltf .xyz .xyzn .pts .pcd .npy .npz)");
    }
    if (pc.points.empty()) throw IoError(path + ": no points or faces found (empty geometry)");
    if (pc.normals.size() != pc.points.size()) pc.normals.clear();
    check_finite(pc, path);
    return pc;
}

void random_subset(PointCloud& pc, int64_t n, uint64_t seed) {
    if (n <= 0 || pc.size() <= n) return;
    std::vector<int64_t> idx(pc.size());
    for (int64_t i = 0; i < pc.size(); ++i) idx[i] = i;
    std::mt19937_64 rng(seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(n);
    std::sort(idx.begin(), idx.end());
    const bool has_normals = pc.normals.size() == pc.points.size();
    std::vector<double> p, nn;
    for (int64_t i : idx) {
        p.insert(p.end(), pc.points.begin() + 3 * i, pc.points.begin() + 3 * i + 3);
        if (has_normals) nn.insert(nn.end(), pc.normals.begin() + 3 * i, pc.normals.begin() + 3 * i + 3);
    }
    pc.points = std::move(p);
    pc.normals = std::move(nn);
}

TriangleMesh read_mesh(const std::string& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path + ": no such file");
    RawGeometry g;
    if (!read_geometry(path, lower_extension(path), g))
        throw IoError(path + ": unsupported mesh extension '" + lower_extension(path) +
                      "' (expected .obj .off .ply .stl .glb .gltf)");
    if (g.triangles.empty()) throw IoError(path + ": cannot read a triangle mesh (no faces)");
    TriangleMesh m;
    m.vertices = std::move(g.vertices);
    m.triangles = std::move(g.triangles);
    return m;
}

void save_mesh(const std::string& path, const TriangleMesh& m) {
    const std::string ext = lower_extension(path);
    if (ext != ".ply" && ext != ".obj" && ext != ".off" && ext != ".stl")
        throw IoError(path + ": unsupported mesh extension '" + ext + "' (expected .ply .obj .off .stl)");
    write_file_atomic(path, serialize_mesh(ext, m.vertices, m.triangles));
}

bool is_point_output_ext(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".ply" || ext == ".pcd" || ext == ".xyz" || ext == ".pts" || ext == ".npy" || ext == ".xyzn";
}

void save_points(const std::string& path, const std::vector<double>& points, const std::vector<double>& normals) {
    const std::string ext = lower_extension(path);
    if (!is_point_output_ext(path))
        throw IoError(path + ": unsupported point cloud output extension '" + ext +
                      "' (expected .ply .pcd .xyz .xyzn .pts .npy)");
    const int64_t n = int64_t(points.size() / 3);
    if (ext == ".npy") {
        write_file_atomic(path, formats::serialize_npy(formats::NpyArray::from_double(points, {n, 3})));
        return;
    }
    write_file_atomic(path, serialize_points(ext, points, normals));
}

}  // namespace mash::io
