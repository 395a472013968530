// SPDX-License-Identifier: MIT
#include "mash/fitting/fitter.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <torch/optim/adamw.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "mash/core/timing.h"
#include "mash/fitting/init.h"
#include "mash/losses/losses.h"
#include "mash/ops/nearest/nearest.h"
#include "mash/ops/sampling/sampling.h"
#include "mash/representation/mash.h"

namespace mash::fitting {
namespace {

/// The stage list of spec §6.5: warm-up, `adaptive_epochs` adaptive epochs, then lr-decay
/// epochs k = 2, 3, ... until the epoch that runs at min_lr.
struct Stage {
    std::string name;
    bool warmup = false;
    double lr = 0, w_fit = 1, w_cov = 0.5, w_bc = 0;
};

std::vector<Stage> make_stages(const FitOptions& o) {
    std::vector<Stage> s;
    if (o.warmup_steps > 0) s.push_back({"warmup", true, o.lr, o.fit_weight, o.coverage_weight_start, 0.0});
    const int64_t n = o.adaptive_epochs;
    for (int64_t i = 0; i < n; ++i) {
        const double t = n > 1 ? double(i) / double(n - 1) : 1.0;
        s.push_back({"adapt " + std::to_string(i + 1) + "/" + std::to_string(n), false, o.lr, o.fit_weight,
                     o.coverage_weight_start + (1.0 - o.coverage_weight_start) * t, (0.1 + 0.9 * t) * o.boundary_weight_max});
    }
    for (int64_t k = 2;; ++k) {
        const double lr = std::max(o.lr * std::pow(o.lr_decay, double(k - 1)), o.min_lr);
        s.push_back({"decay " + std::to_string(k - 1), false, lr, o.fit_weight, 1.0, o.boundary_weight_max / k});
        if (lr <= o.min_lr || k > 100) break;
    }
    return s;
}

/// The Morton (Z-order) order of points [P,3]: the losses are permutation-invariant, and coherent
/// query order makes the per-step nearest-neighbour searches much more cache friendly.
at::Tensor morton_order(const at::Tensor& pts) {
    auto p = pts.contiguous();
    auto lo = std::get<0>(p.min(0)), hi = std::get<0>(p.max(0));
    auto q = ((p - lo) / (hi - lo).clamp_min(1e-12) * 1023.0).clamp(0, 1023).to(at::kLong).contiguous();
    const int64_t n = q.size(0);
    std::vector<std::pair<uint64_t, int64_t>> keys(n);
    const int64_t* qp = q.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) {
        uint64_t code = 0;
        for (int b = 9; b >= 0; --b)
            for (int d = 0; d < 3; ++d) code = (code << 1) | ((uint64_t(qp[3 * i + d]) >> b) & 1);
        keys[i] = {code, i};
    }
    std::sort(keys.begin(), keys.end());
    std::vector<int64_t> order(n);
    for (int64_t i = 0; i < n; ++i) order[i] = keys[i].second;
    return at::tensor(order, at::TensorOptions().dtype(at::kLong));
}

/// Surfels of the GT points (FitOptions::surfel_radius): unit normals [G,3] and disc radii [G].
struct Surfels {
    at::Tensor normals, radii;
};

Surfels make_surfels(const at::Tensor& gt_cpu, const at::Tensor& gt_normals, const FitOptions& o) {
    auto g = gt_cpu.to(at::kDouble).contiguous();
    std::vector<double> pts(g.data_ptr<double>(), g.data_ptr<double>() + g.numel());
    Surfels s;
    if (gt_normals.defined()) {
        s.normals = gt_normals.detach().to(at::kCPU, at::kDouble);
    } else {
        auto n = estimate_normals(pts, o.normal_knn);
        s.normals = at::tensor(n, at::TensorOptions().dtype(at::kDouble)).view({-1, 3});
    }
    s.normals = s.normals / s.normals.norm(2, 1, true).clamp_min(1e-12);
    auto sp = local_spacing(pts, 4);
    s.radii = at::tensor(sp, at::TensorOptions().dtype(at::kDouble)) * o.surfel_radius;
    return s;
}

}  // namespace

PointMetrics point_metrics(const at::Tensor& pred, const at::Tensor& gt, double tau) {
    at::NoGradGuard ng;
    auto ch = losses::chamfer(pred.detach(), gt.detach().to(pred.scalar_type()));
    auto df = ch.dist2_fit.to(at::kDouble), dc = ch.dist2_cov.to(at::kDouble);
    PointMetrics m;
    m.tau = tau;
    m.l1_cd = 0.5 * (df.sqrt().mean().item<double>() + dc.sqrt().mean().item<double>());
    m.l2_cd = 0.5 * (df.mean().item<double>() + dc.mean().item<double>());
    m.precision = (df <= tau * tau).to(at::kDouble).mean().item<double>();
    m.recall = (dc <= tau * tau).to(at::kDouble).mean().item<double>();
    m.fscore = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
    return m;
}

std::vector<int64_t> farthest_point_indices(const std::vector<double>& points, int64_t k) {
    const int64_t n = int64_t(points.size() / 3);
    auto pts = at::from_blob(const_cast<double*>(points.data()), {n, 3}, at::TensorOptions().dtype(at::kDouble)).to(at::kFloat);
    auto idx = ops::sampling::fps(pts, k);
    return std::vector<int64_t>(idx.data_ptr<int64_t>(), idx.data_ptr<int64_t>() + idx.numel());
}

struct Fitter::State {
    FitOptions o;
    std::chrono::steady_clock::time_point t0;
    at::Tensor gt;
    Surfels surfels;
    Mash mash{nullptr};
    std::unique_ptr<ops::nearest::KdTree> tree;
    std::unique_ptr<torch::optim::AdamW> opt;
    std::vector<Stage> stages;
    FitResult res;
    double last_finite = NAN;
    int64_t step = 0;
    size_t si = 0;  ///< current stage
    int64_t i = 0;  ///< step within the stage
    double best = INFINITY;
    int64_t bad = 0;  ///< consecutive non-improving steps (patience rule)
    bool stage_over = false;
    at::Tensor params_finite;

    void set_lr(double lr) {
        for (auto& g : opt->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    }
    at::Tensor all_finite() {
        at::NoGradGuard ng;
        std::vector<at::Tensor> fin;
        for (const auto& p : mash->parameters()) fin.push_back(at::isfinite(p).all());
        return at::stack(fin).all();
    }
    [[noreturn]] void throw_params_nonfinite(int64_t at_step) const {
        std::ostringstream os;
        os << "fit diverged at step " << at_step << ": parameters became non-finite; last finite loss " << last_finite;
        throw FitDivergedError(os.str());
    }
    FitStep run_step(const Stage& st, int64_t limit);
};

Fitter::Fitter(const at::Tensor& gt_in, const MashParams& init, const FitOptions& o, c10::Device device,
               const at::Tensor& gt_normals)
    : s_(std::make_unique<State>()) {
    o.validate();
    State& S = *s_;
    S.o = o;
    S.t0 = std::chrono::steady_clock::now();
    auto gt_cpu = gt_in.detach().to(at::kCPU, at::kFloat).contiguous();
    if (gt_normals.defined() && (gt_normals.dim() != 2 || gt_normals.size(0) != gt_cpu.size(0) || gt_normals.size(1) != 3))
        throw std::invalid_argument("fit_mash: gt_normals must be [G,3] like gt");
    const auto order = morton_order(gt_cpu);
    gt_cpu = gt_cpu.index_select(0, order).contiguous();
    S.gt = gt_cpu.to(device);
    if (o.surfel_radius > 0) {
        S.surfels = make_surfels(gt_cpu, gt_normals.defined() ? gt_normals.to(at::kCPU).index_select(0, order) : at::Tensor(), o);
        S.surfels.normals = S.surfels.normals.to(device, at::kFloat);
        S.surfels.radii = S.surfels.radii.to(device, at::kFloat);
    }
    MashOptions mo;
    mo.num_directions = o.num_directions;
    mo.num_boundary = o.num_boundary;
    mo.fps_scale = o.fps_scale;
    S.mash = make_mash(init, mo, S.gt.options());
    for (auto& p : S.mash->parameters()) p.requires_grad_(true);
    S.tree = std::make_unique<ops::nearest::KdTree>(S.gt);
    S.opt = std::make_unique<torch::optim::AdamW>(
        S.mash->parameters(), torch::optim::AdamWOptions(o.lr).betas({0.9, 0.999}).eps(1e-8).weight_decay(o.weight_decay));
    S.stages = make_stages(o);
    S.params_finite = at::ones({}, S.gt.options().dtype(at::kBool));
}

Fitter::~Fitter() = default;

std::optional<FitStep> Fitter::step() {
    State& S = *s_;
    while (S.si < S.stages.size() && S.step < S.o.max_steps) {
        const Stage& st = S.stages[S.si];
        const int64_t limit = st.warmup ? S.o.warmup_steps : S.o.max_epoch_steps;
        if (S.stage_over || S.i >= limit) {  // the next stage starts afresh
            ++S.si;
            S.i = 0;
            S.best = INFINITY;
            S.bad = 0;
            S.stage_over = false;
            continue;
        }
        return S.run_step(st, limit);
    }
    return std::nullopt;
}

FitStep Fitter::State::run_step(const Stage& st, int64_t limit) {
    ++step;
    const double lr = st.warmup ? o.lr * double(i + 1) / double(o.warmup_steps) : st.lr;
    set_lr(lr);
    auto ta = std::chrono::steady_clock::now();
    MashSamples s = mash->forward(true);
    auto pts = s.points();
    auto tb = std::chrono::steady_clock::now();
    auto ch = losses::chamfer(pts, gt, tree.get());
    auto l_fit = losses::soft_l1(
        o.surfel_radius > 0 ? losses::surfel_dist2(pts, gt, ch.idx_fit, surfels.normals, surfels.radii) : ch.dist2_fit, o.eps);
    auto l_cov = losses::soft_l1(ch.dist2_cov, o.eps);
    auto tc = std::chrono::steady_clock::now();
    at::Tensor l_bc = at::zeros({}, pts.options());
    if (st.w_bc > 0) l_bc = losses::boundary_continuity(s.boundary_points, s.boundary_anchor_idx, o.eps);
    auto td = std::chrono::steady_clock::now();
    auto loss = st.w_fit * l_fit + st.w_cov * l_cov + st.w_bc * l_bc;
    // The one host synchronisation of a step: the loss (divergence check, patience rule) and the
    // progress scalars, read together; the finiteness of the parameters after the previous step's
    // update rides along.
    double sc[6];
    {
        at::NoGradGuard ng;
        auto covered = (ch.dist2_cov <= o.coverage_tau * o.coverage_tau).to(at::kDouble).mean();
        auto v = at::stack({loss.detach().to(at::kDouble), l_fit.detach().to(at::kDouble), l_cov.detach().to(at::kDouble),
                            l_bc.detach().to(at::kDouble), covered, params_finite.to(at::kDouble)})
                     .to(at::kCPU);
        std::copy(v.data_ptr<double>(), v.data_ptr<double>() + 6, sc);
    }
    if (sc[5] == 0) throw_params_nonfinite(step - 1);
    const double lv = sc[0];
    if (!std::isfinite(lv)) {
        std::ostringstream os;
        os << "fit diverged at step " << step << " (" << st.name << "): loss is " << lv << "; last finite loss " << last_finite;
        throw FitDivergedError(os.str());
    }
    last_finite = lv;
    opt->zero_grad();
    loss.backward();
    for (auto& p : mash->parameters())
        if (p.grad().defined()) p.mutable_grad().nan_to_num_(0.0, 0.0, 0.0);  // spec: NaN grads → 0
    opt->step();
    params_finite = all_finite();  // read with the next step's scalars (no sync here)
    auto te = std::chrono::steady_clock::now();
    res.time_sampling += std::chrono::duration<double>(tb - ta).count();
    res.time_chamfer += std::chrono::duration<double>(tc - tb).count();
    res.time_boundary += std::chrono::duration<double>(td - tc).count();
    res.time_backward += std::chrono::duration<double>(te - td).count();

    FitStep fs;
    fs.step = step;
    fs.stage = st.name;
    fs.lr = lr;
    fs.loss = lv;
    fs.fit = sc[1];
    fs.coverage_loss = sc[2];
    fs.boundary = sc[3];
    fs.w_fit = st.w_fit;
    fs.w_cov = st.w_cov;
    fs.w_bc = st.w_bc;
    fs.coverage = sc[4];
    fs.num_samples = pts.size(0);
    fs.elapsed = seconds_since(t0);
    fs.progress = std::min(0.99, (double(si) + (st.warmup ? double(i + 1) / double(limit) : 0.5)) / double(stages.size()));
    res.history.push_back(fs);
    ++i;
    if (!st.warmup) {  // patience rule (spec §6.5): two consecutive non-improving steps end the stage
        if (lv < best) {
            best = lv;
            bad = 0;
        } else if (++bad >= o.patience) {
            stage_over = true;
        }
    }
    return fs;
}

FitResult Fitter::finish() {
    State& S = *s_;
    if (S.step > 0 && !S.params_finite.item<bool>()) S.throw_params_nonfinite(S.step);
    FitResult res = std::move(S.res);
    res.steps = S.step;
    res.params = S.mash->to_params();
    {
        at::NoGradGuard ng;
        auto s = S.mash->forward(true);
        res.metrics = point_metrics(s.points(), S.gt, S.o.fscore_tau);
    }
    res.seconds = seconds_since(S.t0);
    if (!res.history.empty()) res.last = res.history.back();
    return res;
}

FitResult fit_mash(const at::Tensor& gt, const MashParams& init, const FitOptions& options,
                   const std::function<void(const FitStep&)>& on_step, c10::Device device, const at::Tensor& gt_normals) {
    Fitter f(gt, init, options, device, gt_normals);
    while (const auto s = f.step())
        if (on_step) on_step(*s);
    return f.finish();
}

}  // namespace mash::fitting
