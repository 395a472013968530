// SPDX-License-Identifier: MIT
// Which glTF reader: Debian's assimp 5.2 (aiProcess_Triangulate, node transforms composed the same
// way) against ours (tinygltf 2.7 + libdraco 1.5 + our accessor decoding, mash/io/gltf.h), on the
// same files: load time (median of 5), triangles, surface area and bounding box of the assembled
// scene, and what each does with a broken file. Writes each assembly as OBJ for `mash eval`
// against a reference (run.sh). Built only when assimp is installed (libassimp-dev).
//   compare_readers OUT_DIR FILE...
#include <assimp/postprocess.h>
#include <assimp/scene.h>

#include <algorithm>
#include <assimp/Importer.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/io/gltf.h"

namespace {
using Clock = std::chrono::steady_clock;
using mash::io::RawGeometry;

RawGeometry read_assimp(const std::string& path) {
    Assimp::Importer imp;
    const aiScene* s = imp.ReadFile(path, aiProcess_Triangulate | aiProcess_ValidateDataStructure);
    if (!s) throw std::runtime_error(imp.GetErrorString());
    RawGeometry g;
    std::function<void(const aiNode*, aiMatrix4x4)> walk = [&](const aiNode* n, aiMatrix4x4 M) {
        M = M * n->mTransformation;
        for (unsigned k = 0; k < n->mNumMeshes; ++k) {
            const aiMesh* m = s->mMeshes[n->mMeshes[k]];
            const int64_t base = int64_t(g.vertices.size() / 3);
            for (unsigned v = 0; v < m->mNumVertices; ++v) {
                const aiVector3D p = M * m->mVertices[v];
                g.vertices.insert(g.vertices.end(), {p.x, p.y, p.z});
            }
            for (unsigned f = 0; f < m->mNumFaces; ++f)
                if (m->mFaces[f].mNumIndices == 3)
                    for (int c = 0; c < 3; ++c) g.triangles.push_back(base + m->mFaces[f].mIndices[c]);
        }
        for (unsigned c = 0; c < n->mNumChildren; ++c) walk(n->mChildren[c], M);
    };
    walk(s->mRootNode, aiMatrix4x4());
    return g;
}

struct Stats {
    double area = 0, lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
};
Stats stats(const RawGeometry& g) {
    Stats s;
    for (size_t i = 0; i < g.vertices.size(); ++i) {
        s.lo[i % 3] = std::min(s.lo[i % 3], g.vertices[i]);
        s.hi[i % 3] = std::max(s.hi[i % 3], g.vertices[i]);
    }
    for (size_t t = 0; t + 2 < g.triangles.size(); t += 3) {
        const double* a = &g.vertices[size_t(3 * g.triangles[t])];
        const double* b = &g.vertices[size_t(3 * g.triangles[t + 1])];
        const double* c = &g.vertices[size_t(3 * g.triangles[t + 2])];
        const double u[3] = {b[0] - a[0], b[1] - a[1], b[2] - a[2]}, v[3] = {c[0] - a[0], c[1] - a[1], c[2] - a[2]};
        const double x = u[1] * v[2] - u[2] * v[1], y = u[2] * v[0] - u[0] * v[2], z = u[0] * v[1] - u[1] * v[0];
        s.area += 0.5 * std::sqrt(x * x + y * y + z * z);
    }
    return s;
}

void write_obj(const std::string& path, const RawGeometry& g) {
    std::ofstream o(path);
    char b[128];
    for (size_t i = 0; i + 2 < g.vertices.size(); i += 3) {
        std::snprintf(b, sizeof b, "v %.9g %.9g %.9g\n", g.vertices[i], g.vertices[i + 1], g.vertices[i + 2]);
        o << b;
    }
    for (size_t t = 0; t + 2 < g.triangles.size(); t += 3)
        o << "f " << g.triangles[t] + 1 << " " << g.triangles[t + 1] + 1 << " " << g.triangles[t + 2] + 1 << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: compare_readers OUT_DIR FILE...\n");
        return 2;
    }
    const std::string out = argv[1];
    std::filesystem::create_directories(out);
    std::printf("%-28s %-7s %10s %10s %14s  %s\n", "file", "reader", "ms", "triangles", "area", "bbox / error");
    for (int i = 2; i < argc; ++i) {
        const std::string f = argv[i];
        const std::string stem = std::filesystem::path(f).stem().string();
        for (const std::string reader : {"assimp", "mash"}) {
            std::vector<double> ms;
            RawGeometry g;
            std::string error;
            for (int rep = 0; rep < 5 && error.empty(); ++rep) {
                const auto t0 = Clock::now();
                try {
                    g = reader == "assimp" ? read_assimp(f) : mash::io::read_gltf(f);
                } catch (const std::exception& e) {
                    error = e.what();
                }
                ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            }
            std::sort(ms.begin(), ms.end());
            if (!error.empty()) {
                std::replace(error.begin(), error.end(), '\n', ' ');
                std::printf("%-28s %-7s %10.1f %10s %14s  ERROR %s\n", stem.c_str(), reader.c_str(), ms[0], "-", "-",
                            error.c_str());
                continue;
            }
            const Stats s = stats(g);
            std::printf("%-28s %-7s %10.1f %10zu %14.6g  [%.4g %.4g %.4g]..[%.4g %.4g %.4g]\n", stem.c_str(), reader.c_str(),
                        ms[ms.size() / 2], g.triangles.size() / 3, s.area, s.lo[0], s.lo[1], s.lo[2], s.hi[0], s.hi[1], s.hi[2]);
            if (!g.triangles.empty()) write_obj(out + "/" + stem + "." + reader + ".obj", g);
        }
    }
    return 0;
}
