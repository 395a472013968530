// SPDX-License-Identifier: MIT
#include "models/eval_gen.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/script.h>

#include <Eigen/Dense>
#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>

#include "mash/core/errors.h"
#include "mash/core/files.h"
#include "mash/io/geometry_io.h"
#include "mash/io/mash_file.h"
#include "mash/ops/nearest/nearest.h"
#include "models/preview.h"

namespace fs = std::filesystem;

namespace mash::models {

std::vector<std::string> list_shape_files(const std::string& dir) {
    if (!fs::is_directory(dir)) throw IoError(dir + ": not a folder (expected a folder of MASH, mesh or point files)");
    static const std::vector<std::string> exts = {".npz", ".npy", ".ply", ".obj", ".off", ".stl", ".xyz", ".pts", ".pcd", ".glb"};
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator(); ++it) {
        if (!it->is_regular_file()) continue;
        auto e = lower_extension(it->path().string());
        if (std::find(exts.begin(), exts.end(), e) != exts.end()) out.push_back(it->path().string());
    }
    // One file per shape: `mash generate` writes X.npz (MASH), X.ply (points) and X_mesh.ply for
    // the same shape; keep the MASH file, else the mesh, else the points.
    auto rank = [](const std::string& p) {
        auto e = lower_extension(p);
        if (e == ".npz" || e == ".npy") return 0;
        if (p.size() > 9 && p.compare(p.size() - 9, 9, "_mesh.ply") == 0) return 1;
        return 2;
    };
    std::map<std::string, std::string> by_shape;
    for (const auto& p : out) {
        std::string key = fs::path(p).replace_extension().string();
        if (key.size() > 5 && key.compare(key.size() - 5, 5, "_mesh") == 0) key.resize(key.size() - 5);
        auto it = by_shape.find(key);
        if (it == by_shape.end() || rank(p) < rank(it->second)) by_shape[key] = p;
    }
    out.clear();
    for (auto& kv : by_shape) out.push_back(kv.second);
    std::sort(out.begin(), out.end());
    if (out.empty()) throw IoError(dir + ": no shape files found (expected .npz/.npy MASH files, meshes or point clouds)");
    return out;
}

std::vector<double> shape_cloud(const std::string& path, const GenEvalOptions& o) {
    io::PointCloud pc;
    const auto e = lower_extension(path);
    if ((e == ".npz" || e == ".npy") && io::is_mash_file(path)) {
        pc.points = mash_points(io::load_mash(path), 1 << 30);
    } else {
        pc = io::load_points(path, o.num_points, o.seed);
    }
    if (pc.size() < 1) throw InputError(path + ": no points");
    io::random_subset(pc, o.num_points, o.seed);
    if (o.normalize == "unit") {
        double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
        for (int64_t i = 0; i < pc.size(); ++i)
            for (int d = 0; d < 3; ++d) {
                lo[d] = std::min(lo[d], pc.points[3 * i + d]);
                hi[d] = std::max(hi[d], pc.points[3 * i + d]);
            }
        double diag =
            std::sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) + (hi[2] - lo[2]) * (hi[2] - lo[2]));
        diag = std::max(diag, 1e-12);
        for (int64_t i = 0; i < pc.size(); ++i)
            for (int d = 0; d < 3; ++d) pc.points[3 * i + d] = (pc.points[3 * i + d] - 0.5 * (lo[d] + hi[d])) / diag;
    }
    return pc.points;
}

std::vector<double> chamfer_matrix(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b) {
    auto T = [](const std::vector<double>& v) {
        return at::from_blob(const_cast<double*>(v.data()), {static_cast<int64_t>(v.size() / 3), 3}, at::kDouble).clone();
    };
    std::vector<at::Tensor> ta, tb;
    for (auto& v : a) ta.push_back(T(v));
    for (auto& v : b) tb.push_back(T(v));
    std::vector<std::unique_ptr<ops::nearest::KdTree>> ka, kb;
    for (auto& t : ta) ka.push_back(std::make_unique<ops::nearest::KdTree>(t));
    for (auto& t : tb) kb.push_back(std::make_unique<ops::nearest::KdTree>(t));
    const int64_t na = static_cast<int64_t>(a.size()), nb = static_cast<int64_t>(b.size());
    std::vector<double> m(static_cast<size_t>(na * nb));
    at::parallel_for(0, na * nb, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t k = lo; k < hi; ++k) {
            const int64_t i = k / nb, j = k % nb;
            auto d1 = (ta[i] - tb[j].index_select(0, kb[j]->nearest(ta[i]))).pow(2).sum(1).mean().item<double>();
            auto d2 = (tb[j] - ta[i].index_select(0, ka[i]->nearest(tb[j]))).pow(2).sum(1).mean().item<double>();
            m[k] = d1 + d2;
        }
    });
    return m;
}

void distribution_metrics(const std::vector<double>& gr, const std::vector<double>& gg, const std::vector<double>& rr, int64_t ng,
                          int64_t nr, GenEvalResult& out) {
    out.num_generated = ng;
    out.num_reference = nr;
    double mmd = 0;
    for (int64_t j = 0; j < nr; ++j) {
        double best = std::numeric_limits<double>::infinity();
        for (int64_t i = 0; i < ng; ++i) best = std::min(best, gr[i * nr + j]);
        mmd += best;
    }
    out.mmd_cd = mmd / static_cast<double>(nr);
    std::vector<char> covered(nr, 0);
    for (int64_t i = 0; i < ng; ++i) {
        int64_t arg = 0;
        for (int64_t j = 1; j < nr; ++j)
            if (gr[i * nr + j] < gr[i * nr + arg]) arg = j;
        covered[arg] = 1;
    }
    out.cov_cd = static_cast<double>(std::count(covered.begin(), covered.end(), 1)) / static_cast<double>(nr);
    // 1-NNA over the union: generated i ↔ index i, reference j ↔ ng + j.
    int64_t correct = 0;
    for (int64_t i = 0; i < ng; ++i) {
        double bg = std::numeric_limits<double>::infinity(), br = bg;
        for (int64_t k = 0; k < ng; ++k)
            if (k != i) bg = std::min(bg, gg[i * ng + k]);
        for (int64_t j = 0; j < nr; ++j) br = std::min(br, gr[i * nr + j]);
        correct += bg < br;
    }
    for (int64_t j = 0; j < nr; ++j) {
        double bg = std::numeric_limits<double>::infinity(), br = bg;
        for (int64_t i = 0; i < ng; ++i) bg = std::min(bg, gr[i * nr + j]);
        for (int64_t k = 0; k < nr; ++k)
            if (k != j) br = std::min(br, rr[j * nr + k]);
        correct += br < bg;
    }
    out.nna_cd = static_cast<double>(correct) / static_cast<double>(ng + nr);
}

void feature_metrics(const std::vector<double>& fa, int64_t na, const std::vector<double>& fb, int64_t nb, int64_t F, double& fid,
                     double& kid) {
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Eigen::Map<const Mat> A(fa.data(), na, F), B(fb.data(), nb, F);
    Eigen::RowVectorXd ma = A.colwise().mean(), mb = B.colwise().mean();
    Mat ca = (A.rowwise() - ma).transpose() * (A.rowwise() - ma) / std::max<double>(1, na - 1);
    Mat cb = (B.rowwise() - mb).transpose() * (B.rowwise() - mb) / std::max<double>(1, nb - 1);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> ea(ca);
    Eigen::MatrixXd sa =
        ea.eigenvectors() * ea.eigenvalues().cwiseMax(0).cwiseSqrt().asDiagonal() * ea.eigenvectors().transpose();
    Eigen::MatrixXd m = sa * cb * sa;
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> em(0.5 * (m + m.transpose()));
    const double tr_sqrt = em.eigenvalues().cwiseMax(0).cwiseSqrt().sum();
    fid = (ma - mb).squaredNorm() + ca.trace() + cb.trace() - 2 * tr_sqrt;
    auto k = [&](const Eigen::RowVectorXd& x, const Eigen::RowVectorXd& y) { return std::pow(x.dot(y) / F + 1.0, 3); };
    double kaa = 0, kbb = 0, kab = 0;
    for (int64_t i = 0; i < na; ++i)
        for (int64_t j = 0; j < na; ++j)
            if (i != j) kaa += k(A.row(i), A.row(j));
    for (int64_t i = 0; i < nb; ++i)
        for (int64_t j = 0; j < nb; ++j)
            if (i != j) kbb += k(B.row(i), B.row(j));
    for (int64_t i = 0; i < na; ++i)
        for (int64_t j = 0; j < nb; ++j) kab += k(A.row(i), B.row(j));
    kid = kaa / std::max<double>(1, na * (na - 1)) + kbb / std::max<double>(1, nb * (nb - 1)) - 2 * kab / (double(na) * nb);
}

namespace {

std::vector<double> features_of(torch::jit::script::Module& net, const std::vector<std::vector<double>>& clouds,
                                const std::string& path, int64_t& F) {
    std::vector<double> out;
    torch::NoGradGuard ng;
    for (const auto& c : clouds) {
        at::Tensor x =
            at::from_blob(const_cast<double*>(c.data()), {1, static_cast<int64_t>(c.size() / 3), 3}, at::kDouble).to(at::kFloat);
        at::Tensor f;
        try {
            f = net.forward({x}).toTensor();
        } catch (const std::exception& e) {
            std::string w = e.what();
            throw InputError(path + ": the feature network failed on a [1, N, 3] point cloud: " + w.substr(0, w.find('\n')));
        }
        if (f.dim() != 2 || f.size(0) != 1)
            throw InputError(path + ": the feature network must return [B, F] features, got " + std::string(c10::str(f.sizes())));
        F = f.size(1);
        f = f.to(at::kDouble).contiguous();
        out.insert(out.end(), f.data_ptr<double>(), f.data_ptr<double>() + F);
    }
    return out;
}

}  // namespace

GenEvalResult evaluate_generation(const std::vector<std::string>& gen, const std::vector<std::string>& ref,
                                  const GenEvalOptions& o) {
    if (gen.size() < 2 || ref.size() < 2) throw InputError("eval-gen: need at least 2 generated and 2 reference shapes");
    if (o.normalize != "none" && o.normalize != "unit")
        throw ConfigError("--normalize '" + o.normalize + "': expected none or unit");
    std::vector<std::vector<double>> cg, cr;
    for (auto& p : gen) cg.push_back(shape_cloud(p, o));
    for (auto& p : ref) cr.push_back(shape_cloud(p, o));
    GenEvalResult r;
    auto gr = chamfer_matrix(cg, cr), gg = chamfer_matrix(cg, cg), rr = chamfer_matrix(cr, cr);
    distribution_metrics(gr, gg, rr, static_cast<int64_t>(cg.size()), static_cast<int64_t>(cr.size()), r);
    if (!o.feature_net.empty()) {
        torch::jit::script::Module net;
        try {
            net = torch::jit::load(o.feature_net);
        } catch (const std::exception& e) {
            std::string w = e.what();
            throw IoError(o.feature_net + ": not a loadable TorchScript file: " + w.substr(0, w.find('\n')));
        }
        net.eval();
        int64_t F = 0;
        auto fg = features_of(net, cg, o.feature_net, F);
        auto fr = features_of(net, cr, o.feature_net, F);
        feature_metrics(fg, static_cast<int64_t>(cg.size()), fr, static_cast<int64_t>(cr.size()), F, r.fid, r.kid);
        r.has_features = true;
        r.feature_dim = F;
    }
    return r;
}

}  // namespace mash::models
