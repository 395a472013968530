// SPDX-License-Identifier: MIT
#include "mash/io/geometry_io.h"

#include <open3d/geometry/PointCloud.h>
#include <open3d/geometry/TriangleMesh.h>
#include <open3d/io/PointCloudIO.h>
#include <open3d/utility/Logging.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <random>
#include <unistd.h>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/formats/npy.h"
#include "mash/io/gltf.h"
#include "mash/io/point_formats.h"

namespace mash::io {
namespace fs = std::filesystem;
namespace {

void quiet_open3d() { open3d::utility::SetVerbosityLevel(open3d::utility::VerbosityLevel::Error); }

void check_finite(const PointCloud& pc, const std::string& path) {
    for (size_t i = 0; i < pc.points.size(); ++i)
        if (!std::isfinite(pc.points[i]))
            throw IoError(path + ": point " + std::to_string(i / 3) + " has a non-finite coordinate (expected finite x y z)");
}

PointCloud points_from_array(const NpyArray& a, const std::string& path) {
    if (a.shape.size() != 2 || a.shape[1] != 3 || (a.kind != 'f' && a.kind != 'i'))
        throw IoError(path + ": expected a numeric array of shape [P,3]");
    PointCloud pc;
    pc.points = a.to_double();
    return pc;
}

/// Uniform-by-area surface samples with per-sample face normals (deterministic for a seed).
PointCloud sample_mesh(const open3d::geometry::TriangleMesh& mesh, int64_t n, uint64_t seed, const std::string& path) {
    const auto& V = mesh.vertices_;
    const auto& F = mesh.triangles_;
    std::vector<double> cum(F.size());
    double total = 0;
    for (size_t f = 0; f < F.size(); ++f) {
        for (int k = 0; k < 3; ++k)
            if (F[f][k] < 0 || size_t(F[f][k]) >= V.size())
                throw IoError(path + ": face " + std::to_string(f) + " references a missing vertex");
        Eigen::Vector3d e1 = V[F[f][1]] - V[F[f][0]], e2 = V[F[f][2]] - V[F[f][0]];
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
        size_t f = std::min(size_t(std::lower_bound(cum.begin(), cum.end(), t) - cum.begin()), F.size() - 1);
        double r1 = std::sqrt(U(rng)), r2 = U(rng);
        const auto &a = V[F[f][0]], &b = V[F[f][1]], &c = V[F[f][2]];
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

/// Wavefront OBJ: `v` and `f` lines only (polygons fan-triangulated; v, v/vt, v//vn, v/vt/vn and
/// negative indices). Materials, textures and groups are ignored, so a missing .mtl (common in
/// exported datasets) does not matter. Returns false if the file has no vertices.
bool read_obj(const std::string& path, open3d::geometry::TriangleMesh& mesh) {
    std::ifstream f(path);
    if (!f) return false;
    std::string line;
    std::vector<int> poly;
    int64_t lineno = 0;
    while (std::getline(f, line)) {
        ++lineno;
        if (line.size() < 2) continue;
        if (line[0] == 'v' && (line[1] == ' ' || line[1] == '\t')) {
            std::istringstream ls(line.substr(2));
            double x, y, z;
            if (!(ls >> x >> y >> z)) throw IoError(path + ": malformed vertex on line " + std::to_string(lineno));
            mesh.vertices_.emplace_back(x, y, z);
        } else if (line[0] == 'f' && (line[1] == ' ' || line[1] == '\t')) {
            std::istringstream ls(line.substr(2));
            std::string tok;
            poly.clear();
            while (ls >> tok) {
                long idx = std::strtol(tok.c_str(), nullptr, 10);
                if (idx < 0) idx += long(mesh.vertices_.size()) + 1;
                if (idx < 1 || idx > long(mesh.vertices_.size()))
                    throw IoError(path + ": face on line " + std::to_string(lineno) + " references a missing vertex");
                poly.push_back(int(idx - 1));
            }
            for (size_t k = 2; k < poly.size(); ++k) mesh.triangles_.emplace_back(poly[0], poly[k - 1], poly[k]);
        }
    }
    return !mesh.vertices_.empty();
}

/// Our readers' output as a point cloud (vertices) or, with faces, as a mesh to sample.
PointCloud from_raw(formats::RawGeometry&& g, int64_t num_samples, uint64_t seed, const std::string& path) {
    if (g.triangles.empty()) {
        PointCloud pc;
        pc.points = std::move(g.vertices);
        pc.normals = std::move(g.normals);
        return pc;
    }
    open3d::geometry::TriangleMesh mesh;
    for (size_t i = 0; i + 2 < g.vertices.size(); i += 3) mesh.vertices_.emplace_back(g.vertices[i], g.vertices[i + 1], g.vertices[i + 2]);
    for (size_t i = 0; i + 2 < g.triangles.size(); i += 3)
        mesh.triangles_.emplace_back(int(g.triangles[i]), int(g.triangles[i + 1]), int(g.triangles[i + 2]));
    if (num_samples < 1) throw IoError(path + ": number of surface samples must be >= 1");
    return sample_mesh(mesh, num_samples, seed, path);
}

}  // namespace

PointCloud load_points(const std::string& path, int64_t num_samples, uint64_t seed) {
    quiet_open3d();
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path + ": no such file");
    if (fs::is_directory(path, ec)) throw IoError(path + ": is a directory, expected a mesh or point cloud file");
    const std::string ext = lower_extension(path);
    PointCloud pc;
    if (ext == ".npy") {
        auto bytes = read_file(path);
        pc = points_from_array(parse_npy(bytes.data(), bytes.size(), path), path);
    } else if (ext == ".npz") {
        auto bytes = read_file(path);
        auto arrays = parse_npz(bytes.data(), bytes.size(), path);
        const NpyArray* found = nullptr;
        for (const auto& [name, arr] : arrays)
            if (name == "points" || name == "arr_0" || (arrays.size() == 1)) { found = &arr; break; }
        if (!found) throw IoError(path + ": expected an array named 'points' or 'arr_0' of shape [P,3]");
        pc = points_from_array(*found, path);
    } else if (ext == ".xyz" || ext == ".xyzn") {
        pc = from_raw(formats::parse_xyz(read_file(path), path, ext == ".xyzn"), num_samples, seed, path);
    } else if (ext == ".pts") {
        pc = from_raw(formats::parse_pts(read_file(path), path), num_samples, seed, path);
    } else if (ext == ".pcd") {
        pc = from_raw(formats::parse_pcd(read_file(path), path), num_samples, seed, path);
    } else if (ext == ".off") {
        pc = from_raw(formats::parse_off(read_file(path), path), num_samples, seed, path);
    } else if (ext == ".stl") {
        pc = from_raw(formats::parse_stl(read_file(path), path), num_samples, seed, path);
    } else if (ext == ".glb" || ext == ".gltf") {
        formats::GltfReport report;
        auto g = formats::read_gltf(path, &report);
        for (const auto& n : report.notes) std::fprintf(stderr, "note: %s: %s\n", path.c_str(), n.c_str());
        pc = from_raw(std::move(g), num_samples, seed, path);
    } else if (ext == ".ply") {  // a mesh (faces) is sampled; a point cloud keeps its normals
        pc = from_raw(formats::parse_ply(read_file(path), path), num_samples, seed, path);
    } else if (ext == ".obj") {
        open3d::geometry::TriangleMesh mesh;
        if (!read_obj(path, mesh)) throw IoError(path + ": cannot read mesh (no vertices in the OBJ file)");
        if (!mesh.triangles_.empty()) {
            if (num_samples < 1) throw IoError(path + ": number of surface samples must be >= 1");
            pc = sample_mesh(mesh, num_samples, seed, path);
        } else {
            for (const auto& p : mesh.vertices_) pc.points.insert(pc.points.end(), {p.x(), p.y(), p.z()});
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

void read_mesh(const std::string& path, std::vector<double>& vertices, std::vector<int64_t>& triangles) {
    quiet_open3d();
    std::error_code ec;
    if (!fs::exists(path, ec)) throw IoError(path + ": no such file");
    const std::string ext = lower_extension(path);
    if (ext == ".off" || ext == ".stl" || ext == ".ply" || ext == ".glb" || ext == ".gltf") {
        auto g = ext == ".off"   ? formats::parse_off(read_file(path), path)
                 : ext == ".stl" ? formats::parse_stl(read_file(path), path)
                 : ext == ".ply" ? formats::parse_ply(read_file(path), path)
                                 : formats::read_gltf(path);
        if (g.triangles.empty()) throw IoError(path + ": cannot read a triangle mesh (no faces)");
        vertices = std::move(g.vertices);
        triangles = std::move(g.triangles);
        return;
    }
    if (ext != ".obj")
        throw IoError(path + ": unsupported mesh extension '" + ext + "' (expected .obj .off .ply .stl .glb .gltf)");
    open3d::geometry::TriangleMesh mesh;
    if (!read_obj(path, mesh) || mesh.triangles_.empty()) throw IoError(path + ": cannot read a triangle mesh (no faces)");
    vertices.clear();
    triangles.clear();
    for (const auto& v : mesh.vertices_) vertices.insert(vertices.end(), {v.x(), v.y(), v.z()});
    for (const auto& t : mesh.triangles_) triangles.insert(triangles.end(), {t[0], t[1], t[2]});
}

bool is_point_output_ext(const std::string& path) {
    const std::string ext = lower_extension(path);
    return ext == ".ply" || ext == ".pcd" || ext == ".xyz" || ext == ".pts" || ext == ".npy" || ext == ".xyzn";
}

void save_points(const std::string& path, const std::vector<double>& points, const std::vector<double>& normals) {
    quiet_open3d();
    const std::string ext = lower_extension(path);
    if (!is_point_output_ext(path))
        throw IoError(path + ": unsupported point cloud output extension '" + ext +
                      "' (expected .ply .pcd .xyz .xyzn .pts .npy)");
    const int64_t n = int64_t(points.size() / 3);
    if (ext == ".npy") {
        write_file_atomic(path, serialize_npy(NpyArray::from_double(points, {n, 3})));
        return;
    }
    open3d::geometry::PointCloud cloud;
    cloud.points_.resize(n);
    for (int64_t i = 0; i < n; ++i) cloud.points_[i] = {points[3 * i], points[3 * i + 1], points[3 * i + 2]};
    if (normals.size() == points.size()) {
        cloud.normals_.resize(n);
        for (int64_t i = 0; i < n; ++i) cloud.normals_[i] = {normals[3 * i], normals[3 * i + 1], normals[3 * i + 2]};
    }
    open3d::io::WritePointCloudOption opt;
    opt.write_ascii = open3d::io::WritePointCloudOption::IsAscii::Binary;
    write_atomically(path, "point cloud", [&](const std::string& tmp) { return open3d::io::WritePointCloud(tmp, cloud, opt); });
}

}  // namespace mash::io
