// SPDX-License-Identifier: MIT
// Our OFF / XYZ / XYZN / PTS / PCD readers and the size checks in front of Open3D's PLY and STL
// readers: values derived by hand, lying headers refused, and round trips through our writers.
#include <catch2/catch.hpp>
#ifndef MASH_WITHOUT_OPEN3D
#include <open3d/geometry/PointCloud.h>
#include <open3d/geometry/TriangleMesh.h>
#include <open3d/io/PointCloudIO.h>
#include <open3d/io/TriangleMeshIO.h>
#endif

#include <array>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/io/geometry_formats.h"
#include "mash/io/geometry_io.h"
#include "mash/io/gltf.h"
#include "tests/support/support.h"

using namespace mash;
using namespace mash::io;

namespace {
std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::string write_temp(const std::string& name, const std::string& content) {
    const std::string path = mash::test::temp_dir() + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

template <class T>
std::string pack(const std::vector<T>& v) {
    return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
}  // namespace

TEST_CASE("OFF reader: meshes, ModelNet headers, polygons and lies", "[io][formats]") {
    auto g = parse_off(bytes_of("OFF\n# c\n4 2 0\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n3 0 2 3 255 0 0\n"), "q.off");
    CHECK(g.vertices.size() == 12);
    CHECK(g.triangles == std::vector<int64_t>{0, 1, 2, 0, 2, 3, 0, 2, 3});  // quad fan + colour ignored
    auto m = parse_off(bytes_of("OFF3 1 0\r\n0 0 0\r\n1 0 0\r\n0 1 0\r\n3 2 1 0\r\n"), "modelnet.off");
    CHECK(m.triangles == std::vector<int64_t>{2, 1, 0});
    auto n = parse_off(bytes_of("NOFF\n2 0 0\n1 2 3 0 0 1\n4 5 6 0 1 0\n"), "n.off");
    CHECK(n.vertices == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK(n.normals == std::vector<double>{0, 0, 1, 0, 1, 0});
    CHECK_THROWS_WITH(parse_off(bytes_of("OFF\n1000000000 0 0\n0 0 0\n"), "big.off"),
                      Catch::Contains("big.off: header declares"));
    CHECK_THROWS_WITH(parse_off(bytes_of("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n3 0 1 3\n"), "idx.off"),
                      Catch::Contains("vertex index 3") && Catch::Contains("expected 0..2"));
    CHECK_THROWS_WITH(parse_off(bytes_of("OFF\n3 1 0\n0 0 0\n1 0 0\n0 1 0\n2 0 1\n"), "two.off"), Catch::Contains(">= 3"));
    CHECK_THROWS_WITH(parse_off(bytes_of("OFF BINARY\n"), "bin.off"), Catch::Contains("binary OFF"));
    CHECK_THROWS_WITH(parse_off(bytes_of("PLY\n"), "x.off"), Catch::Contains("not an OFF file"));
    CHECK_THROWS_WITH(parse_off(bytes_of("OFF\n3 0 0\n0 0 0\n1 0\n"), "v.off"), Catch::Contains("line 4: malformed vertex"));
}

TEST_CASE("XYZ / XYZN / PTS readers", "[io][formats]") {
    auto g = parse_xyz(bytes_of("# comment\n1 2 3\r\n\n4 5 6 7\n"), "a.xyz", false);
    CHECK(g.vertices == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK_THROWS_WITH(parse_xyz(bytes_of("1 2 3\n1 2 x\n"), "b.xyz", false), Catch::Contains("b.xyz: line 2"));
    auto n = parse_xyz(bytes_of("1 2 3 0 0 1\n"), "c.xyzn", true);
    CHECK(n.normals == std::vector<double>{0, 0, 1});
    CHECK_THROWS(parse_xyz(bytes_of("1 2 3\n"), "d.xyzn", true));
    auto p = parse_pts(bytes_of("2\n1 2 3 9 255 0 0\n4 5 6 9 0 0 0\n"), "e.pts");
    CHECK(p.vertices == std::vector<double>{1, 2, 3, 4, 5, 6});
    CHECK_THROWS_WITH(parse_pts(bytes_of("3\n1 2 3\n4 5 6\n"), "f.pts"), Catch::Contains("declares 3 points but holds 2"));
}

TEST_CASE("PCD reader: ascii, binary and binary_compressed (LZF) agree", "[io][formats]") {
    const std::string hdr = "VERSION .7\nFIELDS x y z\nSIZE 1 1 1\nTYPE U U U\nCOUNT 1 1 1\nWIDTH 3\nHEIGHT 1\nPOINTS 3\n";
    const std::vector<double> want = {1, 1, 1, 2, 2, 2, 3, 3, 3};
    CHECK(parse_pcd(bytes_of(hdr + "DATA ascii\n1 1 1\n2 2 2\n3 3 3\n"), "a.pcd").vertices == want);
    CHECK(parse_pcd(bytes_of(hdr + "DATA binary\n" + std::string("\1\1\1\2\2\2\3\3\3", 9)), "b.pcd").vertices == want);
    // Column-major payload 01 02 03 | 01 02 03 | 01 02 03: a literal run of 3 bytes (ctrl 2),
    // then a back reference of 6 bytes, distance 3: ctrl = (6-2)<<5 | 0, offset byte 3-1 = 2.
    const std::string lzf = std::string("\x02\x01\x02\x03\x80\x02", 6);
    std::string sizes(8, '\0');
    const uint32_t cs = uint32_t(lzf.size()), us = 9;
    std::memcpy(&sizes[0], &cs, 4);
    std::memcpy(&sizes[4], &us, 4);
    CHECK(parse_pcd(bytes_of(hdr + "DATA binary_compressed\n" + sizes + lzf), "c.pcd").vertices == want);
    std::string corrupt = lzf;
    corrupt[5] = '\x09';  // distance 10 reaches before the start
    CHECK_THROWS_WITH(parse_pcd(bytes_of(hdr + "DATA binary_compressed\n" + sizes + corrupt), "d.pcd"),
                      Catch::Contains("corrupt LZF"));
    const std::string lie = "FIELDS x y z\nSIZE 4 4 4\nTYPE F F F\nWIDTH 1000000000\nHEIGHT 1\nPOINTS 1000000000\nDATA binary\n";
    CHECK_THROWS_WITH(parse_pcd(bytes_of(lie + std::string(12, '\0')), "e.pcd"), Catch::Contains("declares 1000000000 points"));
    CHECK_THROWS_WITH(parse_pcd(bytes_of("FIELDS a b\nSIZE 4 4\nTYPE F F\nPOINTS 0\nDATA ascii\n"), "f.pcd"),
                      Catch::Contains("no x, y and z"));
}

TEST_CASE("PLY and STL size checks refuse headers that lie", "[io][formats]") {
    const std::string ply =
        "ply\nformat binary_little_endian 1.0\nelement vertex 100000000\nproperty float x\n"
        "property float y\nproperty float z\nend_header\n";
    CHECK_THROWS_WITH(check_ply(bytes_of(ply + std::string(24, '\0')), "a.ply"), Catch::Contains("declares more elements"));
    CHECK_NOTHROW(check_ply(bytes_of("ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n1\n"), "b.ply"));
    CHECK_THROWS_WITH(check_ply(bytes_of("ply\nformat ascii 1.0\nelement vertex 1\nproperty float\nend_header\n"), "c.ply"),
                      Catch::Contains("malformed 'property'"));
    std::string stl(84, ' ');
    const uint32_t n = 1000000;
    std::memcpy(&stl[80], &n, 4);
    CHECK_THROWS_WITH(parse_stl(bytes_of(stl), "d.stl"), Catch::Contains("declares 1000000 triangles"));
    // Our STL reader: binary (header may start with "solid") and ASCII with a quad loop.
    std::string bin = "solid but binary";
    bin.resize(80, ' ');
    const uint32_t one = 1;
    bin += std::string(reinterpret_cast<const char*>(&one), 4) + pack(std::vector<float>{0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9}) +
           std::string(2, '\0');
    auto b = parse_stl(bytes_of(bin), "b.stl");
    CHECK(b.vertices == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9});
    CHECK(b.triangles == std::vector<int64_t>{0, 1, 2});
    auto a = parse_stl(bytes_of("solid q\n facet normal 0 0 1\n  outer loop\n   vertex 0 0 0\n   vertex 1 0 0\n   vertex 1 1 0\n"
                                "   vertex 0 1 0\n  endloop\n endfacet\nendsolid q\n"),
                       "a.stl");
    CHECK(a.triangles == std::vector<int64_t>{0, 1, 2, 0, 2, 3});
    CHECK_THROWS_WITH(parse_stl(bytes_of("solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0\n"), "c.stl"),
                      Catch::Contains("c.stl: line 4: malformed vertex"));
    CHECK_THROWS_WITH(parse_stl(bytes_of("solid q\nfacet normal 0 0 1\nouter loop\nvertex 0 0 0\n"), "d.stl"),
                      Catch::Contains("not closed"));
    // Through load_points: the same lie is a one-line IoError naming the file.
    const std::string path = write_temp("lie.ply", ply + std::string(24, '\0'));
    CHECK_THROWS_AS(io::load_points(path), IoError);
}

TEST_CASE("point clouds written by save_points read back through our readers", "[io][formats]") {
    const std::vector<double> pts = {0.1, -1.25, 2, 1.0 / 3.0, 4.5, -6, 1e-3, 2e3, -7.75};
    const std::vector<double> nrm = {0, 0, 1, 0, 1, 0, 1, 0, 0};
    for (const std::string ext : {".pcd", ".xyz", ".xyzn", ".pts", ".ply"}) {
        const std::string path = mash::test::temp_dir() + "/round" + ext;
        io::save_points(path, pts, nrm);
        auto pc = io::load_points(path);
        REQUIRE(pc.points.size() == pts.size());
        for (size_t i = 0; i < pts.size(); ++i) CHECK(pc.points[i] == Approx(pts[i]).epsilon(1e-6));
        if (ext != ".pcd") CHECK(pc.points == pts);  // float64 / 17 digits: exact (PCD is float32)
#ifndef MASH_WITHOUT_OPEN3D
        if (ext != ".pts") {  // Open3D users read our files (its PTS reader wants colour columns)
            open3d::geometry::PointCloud o3;
            REQUIRE(open3d::io::ReadPointCloud(path, o3));
            REQUIRE(o3.points_.size() == 3);
            for (size_t i = 0; i < 3; ++i)
                for (int k = 0; k < 3; ++k) CHECK(o3.points_[i][k] == Approx(pts[3 * i + size_t(k)]).epsilon(1e-6));
            if (ext != ".xyz") {
                REQUIRE(o3.normals_.size() == 3);
                for (size_t i = 0; i < 3; ++i)
                    for (int k = 0; k < 3; ++k) CHECK(o3.normals_[i][k] == Approx(nrm[3 * i + size_t(k)]));
            }
        }
#endif
        if (ext == ".pcd" || ext == ".xyzn" || ext == ".ply") {
            REQUIRE(pc.normals.size() == nrm.size());
            for (size_t i = 0; i < nrm.size(); ++i) CHECK(pc.normals[i] == Approx(nrm[i]));
        }
    }
    // A float64 binary PCD with an extra field before x (offsets inside the record).
    const std::string hdr =
        "FIELDS i x y z\nSIZE 2 8 8 8\nTYPE I F F F\nCOUNT 1 1 1 1\nWIDTH 1\nHEIGHT 1\nPOINTS 1\nDATA binary\n";
    std::string rec = pack(std::vector<int16_t>{-5}) + pack(std::vector<double>{1.5, -2.5, 3.25});
    auto g = parse_pcd(bytes_of(hdr + rec), "f64.pcd");
    CHECK(g.vertices == std::vector<double>{1.5, -2.5, 3.25});
}

TEST_CASE("meshes written by serialize_mesh read back through our readers (and Open3D's)", "[io][formats]") {
    // A tetrahedron with coordinates that need all 17 digits.
    const std::vector<double> v = {0.1, 0, 0, 1, 1.0 / 3.0, 0, 0, 1, 0, 0.25, 0.25, 1};
    const std::vector<int64_t> t = {0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3};
    for (const std::string ext : {".ply", ".obj", ".off", ".stl"}) {
        INFO(ext);
        const std::string path = mash::test::temp_dir() + "/tet" + ext;
        write_file_atomic(path, serialize_mesh(ext, v, t));
        const io::TriangleMesh back = io::read_mesh(path);
        const std::vector<double>& rv = back.vertices;
        const std::vector<int64_t>& rt = back.triangles;
        REQUIRE(rt.size() == t.size());
        for (size_t f = 0; f < t.size(); ++f)  // corner by corner (STL does not share vertices)
            for (int d = 0; d < 3; ++d) {
                const double want = v[3 * size_t(t[f]) + size_t(d)], got = rv[3 * size_t(rt[f]) + size_t(d)];
                if (ext == ".stl")
                    CHECK(got == Approx(want).epsilon(1e-7));
                else
                    CHECK(got == want);
            }
        if (ext != ".stl") CHECK(rv.size() == v.size());
#ifndef MASH_WITHOUT_OPEN3D
        open3d::geometry::TriangleMesh o3;
        REQUIRE(open3d::io::ReadTriangleMesh(path, o3));
        CHECK(o3.triangles_.size() == 4);
        if (ext == ".ply") {  // area-weighted unit vertex normals, pointing out of the tetrahedron
            REQUIRE(o3.vertex_normals_.size() == 4);
            const Eigen::Vector3d c((0.1 + 1 + 0 + 0.25) / 4, (0 + 1.0 / 3.0 + 1 + 0.25) / 4, 0.25);  // centroid
            for (size_t i = 0; i < 4; ++i) {
                CHECK(o3.vertex_normals_[i].norm() == Approx(1.0));
                CHECK(o3.vertex_normals_[i].dot(o3.vertices_[i] - c) > 0);
            }
        }
#endif
    }
    CHECK_THROWS_AS(serialize_mesh(".ply", v, {0, 1, 4}), IoError);
    CHECK_THROWS_AS(serialize_mesh(".glb", v, t), IoError);
}

namespace {
void check_triangles(const RawGeometry& g, const std::vector<std::array<double, 9>>& want) {
    REQUIRE(g.triangles.size() == 3 * want.size());
    for (size_t t = 0; t < want.size(); ++t)
        for (int k = 0; k < 3; ++k)
            for (int d = 0; d < 3; ++d) {
                INFO("triangle " << t << " corner " << k << " axis " << d);
                CHECK(g.vertices[size_t(3 * g.triangles[3 * t + size_t(k)] + d)] ==
                      Approx(want[t][size_t(3 * k + d)]).margin(1e-6));
            }
}
}  // namespace

TEST_CASE("glTF: node hierarchy, instancing, strips, quantization — world coordinates by hand", "[io][gltf]") {
    GltfReport rep;
    auto g = read_gltf(mash::test::test_data("gltf/hierarchy.glb"), &rep);
    // node 1 = T(10,0,0)·Rz(90°)·S(2,3,1); node 2 = T(10,0,0)·[T(0,5,0)·S(0.5)] (mesh 0 again);
    // node 3 = node 2 · T(0,0,1) (strip (0,1,2), (2,1,3)); node 4 = T(0,0,-3), int16 normalized.
    check_triangles(g, {{10, 0, 0, 10, 2, 0, 7, 0, 0},
                        {10, 5, 0, 10.5, 5, 0, 10, 5.5, 0},
                        {10, 5, 0.5, 10.5, 5, 0.5, 10, 5.5, 0.5},
                        {10, 5.5, 0.5, 10.5, 5, 0.5, 10.5, 5.5, 0.5},
                        {1, 0, -3, 0, 1, -3, 0, 0, -4}});
    CHECK(rep.mesh_instances == 4);
    CHECK(rep.skipped_primitives == 1);
    REQUIRE(rep.notes.size() == 1);
    CHECK_THAT(rep.notes[0], Catch::Contains("points skipped"));
    // Without a default scene every root node is read: node 5 (T(100,0,0), mesh 0) joins.
    auto all = read_gltf(mash::test::test_data("gltf/noscene.glb"));
    CHECK(all.triangles.size() == 3 * 6);
    CHECK(all.vertices[all.vertices.size() - 6] == Approx(101));
    // Sparse substitution over an all-zero accessor, and a triangle fan.
    auto s = read_gltf(mash::test::test_data("gltf/sparse_fan.gltf"));
    check_triangles(s, {{0, 0, 0, 2, 0, 0, 2, 2, 0}, {0, 0, 0, 2, 2, 0, 0, 2, 0}});
    CHECK_THROWS_WITH(read_gltf(mash::test::test_data("gltf/bad_count.glb")),
                      Catch::Contains("bad_count.glb: mesh 0 primitive 0: 4 triangle indices, not a multiple of 3"));
}

TEST_CASE("glTF: broken files are one-line IoErrors naming the problem", "[io][gltf]") {
    const std::string dir = mash::test::temp_dir();
    auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir + "/" + name, std::ios::binary) << text;
        return dir + "/" + name;
    };
    CHECK_THROWS_WITH(read_gltf(write("empty.glb", "")), Catch::Contains("empty file"));
    CHECK_THROWS_WITH(read_gltf(write("junk.gltf", "{not json")), Catch::Contains("not a readable glTF 2.0 file"));
    CHECK_THROWS_WITH(read_gltf(write("trunc.glb", "glTF\x02\0\0\0\xff\0\0\0")), Catch::Contains("not a readable glTF"));
    const std::string meshopt =
        R"({"asset":{"version":"2.0"},"extensionsRequired":["EXT_meshopt_compression"],"extensionsUsed":["EXT_meshopt_compression"]})";
    CHECK_THROWS_WITH(read_gltf(write("meshopt.gltf", meshopt)),
                      Catch::Contains("requires the glTF extension EXT_meshopt_compression"));
    CHECK_THROWS_WITH(read_gltf(write("noscene.gltf", R"({"asset":{"version":"2.0"}})")),
                      Catch::Contains("the scene holds no triangles"));
    const std::string cyc =
        R"({"asset":{"version":"2.0"},"nodes":[{"children":[1]},{"children":[0]}],"scene":0,"scenes":[{"nodes":[0]}]})";
    CHECK_THROWS_AS(read_gltf(write("cycle.gltf", cyc)), IoError);
    const std::string oob =
        R"({"asset":{"version":"2.0"},"buffers":[{"byteLength":36,"uri":"data:application/octet-stream;base64,AAAAAAAAAAAAAAAAAACAPwAAAAAAAAAAAAAAAAAAgD8AAAAA"}],
      "bufferViews":[{"buffer":0,"byteLength":36}],"accessors":[{"bufferView":0,"componentType":5126,"count":4,"type":"VEC3"}],
      "meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}],"nodes":[{"mesh":0}]})";
    CHECK_THROWS_WITH(read_gltf(write("short.gltf", oob)), Catch::Contains("reads past the end"));
    // An accessor without a bufferView (zeros + sparse) declaring 2^30 elements: refused before
    // anything is allocated.
    const std::string huge = R"({"asset":{"version":"2.0"},"accessors":[{"componentType":5126,"count":1073741824,"type":"VEC3",
      "max":[1,1,1],"min":[0,0,0]}],"meshes":[{"primitives":[{"attributes":{"POSITION":0}}]}],"nodes":[{"mesh":0}]})";
    CHECK_THROWS_WITH(read_gltf(write("huge.gltf", huge)), Catch::Contains("without a bufferView declares 1073741824 elements"));
}

TEST_CASE("PLY reader: ascii and both binary byte orders agree, bad faces are errors", "[io][formats]") {
    const std::string head =
        "element vertex 4\nproperty float x\nproperty float y\nproperty float z\nproperty uchar red\n"
        "element face 1\nproperty list uchar int vertex_indices\nelement extra 1\nproperty list uchar uchar junk\nend_header\n";
    auto a = parse_ply(
        bytes_of("ply\nformat ascii 1.0\ncomment c\n" + head + "0 0 0 255\n1 0 0 0\n1 1 0 0\n0 1 0 0\n4 0 1 2 3\n2 7 7\n"),
        "a.ply");
    CHECK(a.vertices == std::vector<double>{0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0});
    CHECK(a.triangles == std::vector<int64_t>{0, 1, 2, 0, 2, 3});
    auto be32 = [](float f) {
        uint32_t u;
        std::memcpy(&u, &f, 4);
        std::string s(4, '\0');
        for (int i = 0; i < 4; ++i) s[size_t(i)] = char((u >> (24 - 8 * i)) & 0xff);
        return s;
    };
    auto be_i32 = [](int32_t v) {
        std::string s(4, '\0');
        for (int i = 0; i < 4; ++i) s[size_t(i)] = char((uint32_t(v) >> (24 - 8 * i)) & 0xff);
        return s;
    };
    std::string le, be;
    const float V[4][3] = {{0, 0, 0}, {1, 0, 0}, {1, 1, 0}, {0, 1, 0}};
    for (auto& v : V) {
        le += pack(std::vector<float>{v[0], v[1], v[2]}) + std::string(1, '\x07');
        be += be32(v[0]) + be32(v[1]) + be32(v[2]) + std::string(1, '\x07');
    }
    le += std::string(1, '\x04') + pack(std::vector<int32_t>{0, 1, 2, 3}) + std::string("\x02\x07\x07", 3);
    be += std::string(1, '\x04') + be_i32(0) + be_i32(1) + be_i32(2) + be_i32(3) + std::string("\x02\x07\x07", 3);
    CHECK(parse_ply(bytes_of("ply\nformat binary_little_endian 1.0\n" + head + le), "le.ply").triangles == a.triangles);
    auto b = parse_ply(bytes_of("ply\nformat binary_big_endian 1.0\n" + head + be), "be.ply");
    CHECK(b.vertices == a.vertices);
    CHECK(b.triangles == a.triangles);
    CHECK_THROWS_WITH(
        parse_ply(bytes_of("ply\nformat ascii 1.0\n" + head + "0 0 0 1\n1 0 0 1\n1 1 0 1\n0 1 0 1\n3 0 1 9\n0\n"), "c.ply"),
        Catch::Contains("c.ply: PLY face 0: vertex index 9") && Catch::Contains("expected 0..3"));
    CHECK_THROWS_WITH(parse_ply(bytes_of("ply\nformat ascii 1.0\n" + head + "0 0 0 1\n1 0 0 1\n"), "d.ply"),
                      Catch::Contains("declares more elements than the file holds"));
    CHECK_THROWS_WITH(
        parse_ply(bytes_of("ply\nformat binary_little_endian 1.0\n" + head + le.substr(0, le.size() - 3) + "\x02\x07"), "e.ply"),
        Catch::Contains("truncated PLY data"));
}

#include "mash/io/polygon.h"

namespace {
double tri_area(const std::vector<double>& v, const std::vector<int64_t>& t, size_t k) {
    const double* a = &v[size_t(3 * t[k])];
    const double* b = &v[size_t(3 * t[k + 1])];
    const double* c = &v[size_t(3 * t[k + 2])];
    const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, w[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
    const double x = u[1] * w[2] - u[2] * w[1], y = u[2] * w[0] - u[0] * w[2], z = u[0] * w[1] - u[1] * w[0];
    return 0.5 * std::sqrt(x * x + y * y + z * z);
}
std::pair<std::vector<double>, std::vector<int64_t>> as_pair(io::TriangleMesh m) {
    return {std::move(m.vertices), std::move(m.triangles)};
}
double mesh_area(const std::vector<double>& v, const std::vector<int64_t>& t) {
    double s = 0;
    for (size_t k = 0; k < t.size(); k += 3) s += tri_area(v, t, k);
    return s;
}
/// Even-odd point-in-polygon test in the xy plane.
bool inside_xy(const std::vector<double>& v, const std::vector<int64_t>& poly, double x, double y) {
    bool in = false;
    for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++) {
        const double xi = v[size_t(3 * poly[i])], yi = v[size_t(3 * poly[i] + 1)];
        const double xj = v[size_t(3 * poly[j])], yj = v[size_t(3 * poly[j] + 1)];
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) in = !in;
    }
    return in;
}
/// Triangulates `poly` (in the plane z = 0, then rotated by a fixed tilt to test the best-fit
/// plane) and checks: n − 2 triangles, total area = the polygon's (shoelace), every triangle's
/// centroid inside the polygon.
void check_polygon(std::vector<double> xy, double want_area) {
    const size_t n = xy.size() / 2;
    std::vector<double> v;
    std::vector<int64_t> poly;
    for (size_t i = 0; i < n; ++i) {
        v.insert(v.end(), {xy[2 * i], xy[2 * i + 1], 0.0});
        poly.push_back(int64_t(i));
    }
    std::vector<int64_t> flat;
    io::triangulate_polygon(v, poly, flat);
    REQUIRE(flat.size() == 3 * (n - 2));
    CHECK(mesh_area(v, flat) == Approx(want_area).epsilon(1e-9));
    for (size_t k = 0; k < flat.size(); k += 3) {
        double cx = 0, cy = 0;
        for (int j = 0; j < 3; ++j) cx += v[size_t(3 * flat[k + j])] / 3, cy += v[size_t(3 * flat[k + j] + 1)] / 3;
        if (tri_area(v, flat, k) > 1e-12) CHECK(inside_xy(v, poly, cx, cy));
    }
    // The same polygon tilted out of the xy plane (lengths along y scaled by 1): the same area.
    std::vector<double> tilted = v;
    for (size_t i = 0; i < n; ++i) {
        const double y = v[3 * i + 1];
        tilted[3 * i + 1] = 0.6 * y, tilted[3 * i + 2] = 0.8 * y + 0.3;
    }
    std::vector<int64_t> t2;
    io::triangulate_polygon(tilted, poly, t2);
    REQUIRE(t2.size() == flat.size());
    CHECK(mesh_area(tilted, t2) == Approx(want_area).epsilon(1e-9));
}
}  // namespace

TEST_CASE("polygon triangulation: concave, ring-like and nearly degenerate faces keep their area", "[io][polygon]") {
    // L shape (area 3), clockwise and counter-clockwise
    check_polygon({0, 0, 2, 0, 2, 1, 1, 1, 1, 2, 0, 2}, 3.0);
    check_polygon({0, 2, 1, 2, 1, 1, 2, 1, 2, 0, 0, 0}, 3.0);
    // a comb (three teeth): area 3·1·2 + 5·1 = 11
    check_polygon({0, 0, 5, 0, 5, 3, 4, 3, 4, 1, 3, 1, 3, 3, 2, 3, 2, 1, 1, 1, 1, 3, 0, 3}, 11.0);
    // a ring as one face: outer square 4×4 counter-clockwise, a slit, inner square 2×2 clockwise
    check_polygon({0, 0, 4, 0, 4, 4, 0, 4, 0, 1, 1, 1, 1, 3, 3, 3, 3, 1, 1, 1, 0, 1}, 12.0);
    // a circular ring: outer circle counter-clockwise (K corners and back to the start), a slit,
    // inner circle clockwise: area = outer polygon − inner polygon
    const int K = 32;
    std::vector<double> ring;
    for (int i = 0; i <= K; ++i) ring.insert(ring.end(), {2 * std::cos(2 * M_PI * i / K), 2 * std::sin(2 * M_PI * i / K)});
    for (int i = K; i >= 0; --i) ring.insert(ring.end(), {std::cos(2 * M_PI * i / K), std::sin(2 * M_PI * i / K)});
    check_polygon(ring, 0.5 * K * (4 - 1) * std::sin(2 * M_PI / K));
    // an almost flat concave sliver
    check_polygon({0, 0, 10, 0, 10, 1e-3, 5, 1e-4, 0, 1e-3}, 10 * 1e-3 - 0.5 * 10 * (1e-3 - 1e-4));
    // collinear corners on an edge (a square with extra corners), and a triangle
    check_polygon({0, 0, 1, 0, 2, 0, 2, 2, 0, 2}, 4.0);
    check_polygon({0, 0, 1, 0, 0, 1}, 0.5);
}

TEST_CASE("real files: a concave OBJ polygon, a UTF-16 OBJ, integer counts in messages, glTF points", "[io][polygon]") {
    std::vector<double> v;
    std::vector<int64_t> t;
    // assimp's concave_polygon.obj: one flat ring-shaped face of 66 corners; area 0.2455 as
    // assimp's own triangulation gives (a fan would cover the hole too: 3.22).
    std::tie(v, t) = as_pair(io::read_mesh(mash::test::test_data("meshes/assimp/concave_polygon.obj")));
    CHECK(t.size() == 3 * 64);
    CHECK(mesh_area(v, t) == Approx(0.2455).margin(5e-4));
    // box_UTF16BE.obj: UTF-16 (big-endian, with BOM): a unit box of 8 corners and 6 quads
    std::tie(v, t) = as_pair(io::read_mesh(mash::test::test_data("meshes/assimp/box_UTF16BE.obj")));
    CHECK(v.size() == 3 * 8);
    CHECK(t.size() == 3 * 12);
    CHECK(mesh_area(v, t) == Approx(6.0).epsilon(1e-6));
    // An OFF header with an absurd count: the count printed as an integer
    const std::string off = write_temp("huge_counts.off", "OFF\n353535235358 1 0\n0 0 0\n");
    CHECK_THROWS_WITH(io::load_points(off, 10), Catch::Contains("353535235358 vertices") && !Catch::Contains(".000000"));
    // glTF POINTS primitive (3 points, node translation 0 2 0): a point cloud
    const std::string pts =
        R"({"asset":{"version":"2.0"},"buffers":[{"byteLength":36,"uri":"data:application/octet-stream;base64,AAAAAAAAAAAAAAAAAACAPwAAAAAAAAAAAAAAAAAAgD8AAAAA"}],
      "bufferViews":[{"buffer":0,"byteLength":36}],"accessors":[{"bufferView":0,"componentType":5126,"count":3,"type":"VEC3","max":[1,1,0],"min":[0,0,0]}],
      "meshes":[{"primitives":[{"attributes":{"POSITION":0},"mode":0}]}],"nodes":[{"mesh":0,"translation":[0,2,0]}],"scene":0,"scenes":[{"nodes":[0]}]})";
    const auto g = read_gltf(write_temp("points.gltf", pts));
    CHECK(g.triangles.empty());
    CHECK(g.vertices == std::vector<double>{0, 2, 0, 1, 2, 0, 0, 3, 0});
    auto pc = io::load_points(write_temp("points2.gltf", pts), 10);
    CHECK(pc.size() == 3);
    CHECK(!pc.from_mesh);
}
