// SPDX-License-Identifier: MIT
#include "mash/ops/points.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cmath>
#include <limits>
#include <vector>

#include "mash/ops/sampling.h"
#include "mash/ops/sh.h"

namespace mash::ops {
namespace {

constexpr int kMaxK = 49;  // (6+1)²

template <typename T>
struct Term {
    int m, am;
    T w;
    T c[7];
};

template <typename T>
std::vector<Term<T>> make_terms(int64_t L) {
    std::vector<Term<T>> out;
    for (const auto& t : sh::terms(L)) {
        Term<T> u;
        u.m = t.m;
        u.am = std::abs(t.m);
        u.w = T(t.w);
        for (int j = 0; j < 7; ++j) u.c[j] = T(t.c[j]);
        out.push_back(u);
    }
    return out;
}

/// Basis values Y[k] (and dY/dθ if dY != nullptr) at one direction.
template <typename T>
inline void basis_at(T ct, T st, T cp, T sp, int L, const Term<T>* terms, int K, T* Y, T* dY) {
    T xp[8], sp_[8], cm[8], sm[8];
    xp[0] = 1;
    sp_[0] = 1;
    cm[0] = 1;
    sm[0] = 0;
    for (int j = 1; j <= L; ++j) {
        xp[j] = xp[j - 1] * ct;
        sp_[j] = sp_[j - 1] * st;
        cm[j] = cm[j - 1] * cp - sm[j - 1] * sp;
        sm[j] = sm[j - 1] * cp + cm[j - 1] * sp;
    }
    for (int k = 0; k < K; ++k) {
        const Term<T>& t = terms[k];
        T Q = 0, Qp = 0;
        for (int j = 0; j <= L; ++j) Q += t.c[j] * xp[j];
        const T trig = t.m > 0 ? cm[t.am] : (t.m < 0 ? sm[t.am] : T(1));
        const T Tv = trig * sp_[t.am];
        Y[k] = t.w * Tv * Q;
        if (dY) {
            for (int j = 1; j <= L; ++j) Qp += T(j) * t.c[j] * xp[j - 1];
            const T dT = t.am > 0 ? trig * T(t.am) * sp_[t.am - 1] * ct : T(0);
            dY[k] = t.w * (dT * Q - Tv * Qp * st);
        }
    }
}

struct Flags {
    int64_t L;
    bool inv, relu;
};

/// Steps 1–3 of spec §5 for one sample, with the intermediates the backward pass needs.
template <typename T>
struct LocalPoint {
    T s, r;            ///< raw SH sum and the (ReLU'd) distance
    T u[3];            ///< direction
    T v[3], d2, fac;   ///< inversion: v = q − C, ‖v‖², 4ρ²/‖v‖²
    T rho;
    bool rho_active;   ///< ρ = W0·c0 (not clamped), so ∂ρ/∂c0 = W0
    T qf[3];           ///< final local point
};

template <typename T>
inline LocalPoint<T> local_point(const T* c, const T* Y, int64_t K, T ct, T st, T cp, T sp, const Flags& f) {
    const T W0 = T(sh::weight(0, 0)), rho_min = T(sampling::kMinInversionRho);
    const T d2_min = std::numeric_limits<float>::min();
    LocalPoint<T> lp;
    lp.s = 0;
    for (int64_t k = 0; k < K; ++k) lp.s += c[k] * Y[k];
    lp.r = f.relu ? (lp.s > 0 ? lp.s : T(0)) : lp.s;
    lp.u[0] = cp * st;
    lp.u[1] = sp * st;
    lp.u[2] = ct;
    for (int l = 0; l < 3; ++l) lp.qf[l] = lp.r * lp.u[l];
    lp.rho = 0;
    lp.d2 = 1;
    lp.fac = 1;
    lp.v[0] = lp.v[1] = lp.v[2] = 0;
    lp.rho_active = f.inv && W0 * c[0] > rho_min;
    if (f.inv) {
        lp.rho = std::max(W0 * c[0], rho_min);
        lp.v[0] = lp.qf[0];
        lp.v[1] = lp.qf[1];
        lp.v[2] = lp.qf[2] + lp.rho;
        lp.d2 = std::max(lp.v[0] * lp.v[0] + lp.v[1] * lp.v[1] + lp.v[2] * lp.v[2], d2_min);
        lp.fac = T(4) * lp.rho * lp.rho / lp.d2;
        lp.qf[0] = lp.fac * lp.v[0];
        lp.qf[1] = lp.fac * lp.v[1];
        lp.qf[2] = lp.fac * lp.v[2] - lp.rho;
    }
    return lp;
}

template <typename T>
void forward_kernel(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                    const at::Tensor& theta, const at::Tensor& phi, Flags f, at::Tensor& out) {
    const int64_t P = aidx.size(0), K = sh.size(1);
    const auto terms = make_terms<T>(f.L);
    const T* shp = sh.data_ptr<T>();
    const T* Rp = R.data_ptr<T>();
    const T* pp = pos.data_ptr<T>();
    const int64_t* ap = aidx.data_ptr<int64_t>();
    const T* thp = theta.data_ptr<T>();
    const T* php = phi.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, P, 4096, [&](int64_t b, int64_t e) {
        T Y[kMaxK];
        for (int64_t i = b; i < e; ++i) {
            const int64_t a = ap[i];
            const T th = thp[i], ph = php[i];
            const T ct = std::cos(th), st = std::sin(th), cp = std::cos(ph), sp = std::sin(ph);
            basis_at<T>(ct, st, cp, sp, int(f.L), terms.data(), int(K), Y, nullptr);
            const auto lp = local_point<T>(shp + a * K, Y, K, ct, st, cp, sp, f);
            const T* q = lp.qf;
            const T* Ra = Rp + 9 * a;
            for (int j = 0; j < 3; ++j)
                op[3 * i + j] = pp[3 * a + j] + Ra[3 * j] * q[0] + Ra[3 * j + 1] * q[1] + Ra[3 * j + 2] * q[2];
        }
    });
}

template <typename T>
void backward_kernel(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& aidx, const at::Tensor& theta,
                     const at::Tensor& phi, const at::Tensor& grad, Flags f, at::Tensor& acc, at::Tensor& g_theta) {
    const int64_t P = aidx.size(0), K = sh.size(1);
    const auto terms = make_terms<T>(f.L);
    const T* shp = sh.data_ptr<T>();
    const T* Rp = R.data_ptr<T>();
    const int64_t* ap = aidx.data_ptr<int64_t>();
    const T* thp = theta.data_ptr<T>();
    const T* php = phi.data_ptr<T>();
    const T* gp = grad.data_ptr<T>();
    // acc [threads, A, K + 9 + 3]: per-thread sums over points (no atomics, no index_add).
    const int64_t A = acc.size(1), S = acc.size(2);
    T* accp = acc.data_ptr<T>();
    T* gth = g_theta.data_ptr<T>();
    const T W0 = T(sh::weight(0, 0));
    at::parallel_for(0, P, 4096, [&](int64_t b, int64_t e) {
        T Y[kMaxK], dY[kMaxK];
        T* mine = accp + int64_t(at::get_thread_num()) * A * S;
        for (int64_t i = b; i < e; ++i) {
            const int64_t a = ap[i];
            T* gc = mine + a * S;       // [K] SH grads, then [9] R grads, then [3] position grads
            T* gR = gc + K;
            T* gpos = gR + 9;
            const T th = thp[i], ph = php[i];
            const T ct = std::cos(th), st = std::sin(th), cp = std::cos(ph), sp = std::sin(ph);
            basis_at<T>(ct, st, cp, sp, int(f.L), terms.data(), int(K), Y, dY);
            const T* c = shp + a * K;
            const auto lp = local_point<T>(c, Y, K, ct, st, cp, sp, f);
            const T s = lp.s, r = lp.r, rho = lp.rho, d2 = lp.d2, fac = lp.fac;
            const T* u = lp.u;
            const T* v = lp.v;
            const T* qf = lp.qf;
            const bool rho_active = lp.rho_active;
            const T* Ra = Rp + 9 * a;
            const T* g = gp + 3 * i;
            for (int j = 0; j < 3; ++j) {
                gpos[j] += g[j];
                for (int l = 0; l < 3; ++l) gR[3 * j + l] += g[j] * qf[l];
            }
            T gq[3];
            for (int l = 0; l < 3; ++l) gq[l] = Ra[l] * g[0] + Ra[3 + l] * g[1] + Ra[6 + l] * g[2];  // Rᵀ g
            T g_rho = 0;
            if (f.inv) {
                const T vg = v[0] * gq[0] + v[1] * gq[1] + v[2] * gq[2];
                T gv[3];
                for (int l = 0; l < 3; ++l) gv[l] = fac * (gq[l] - T(2) * v[l] * vg / d2);
                g_rho = -gq[2] + T(8) * rho / d2 * vg + gv[2];
                for (int l = 0; l < 3; ++l) gq[l] = gv[l];
            }
            const T gr = u[0] * gq[0] + u[1] * gq[1] + u[2] * gq[2];
            const T gs = f.relu ? (s > 0 ? gr : T(0)) : gr;
            T gtheta = 0;
            for (int64_t k = 0; k < K; ++k) {
                gc[k] += gs * Y[k];
                gtheta += c[k] * dY[k];
            }
            if (rho_active) gc[0] += g_rho * W0;
            gtheta *= gs;
            gtheta += r * (gq[0] * cp * ct + gq[1] * sp * ct - gq[2] * st);
            gth[i] = gtheta;
        }
    });
}

class WorldPointsFunction : public torch::autograd::Function<WorldPointsFunction> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& sh, const at::Tensor& R,
                              const at::Tensor& pos, const at::Tensor& aidx, const at::Tensor& theta,
                              const at::Tensor& phi, int64_t L, bool inv, bool relu) {
        auto shc = sh.contiguous(), Rc = R.contiguous(), pc = pos.contiguous();
        auto ac = aidx.to(at::kLong).contiguous(), tc = theta.contiguous(), phc = phi.to(sh.scalar_type()).contiguous();
        auto out = at::empty({ac.size(0), 3}, sh.options());
        Flags f{L, inv, relu};
        AT_DISPATCH_FLOATING_TYPES(shc.scalar_type(), "world_points", [&] {
            forward_kernel<scalar_t>(shc, Rc, pc, ac, tc, phc, f, out);
        });
        ctx->save_for_backward({shc, Rc, ac, tc, phc});
        ctx->saved_data["L"] = L;
        ctx->saved_data["inv"] = inv;
        ctx->saved_data["relu"] = relu;
        ctx->saved_data["A"] = pos.size(0);
        ctx->mark_non_differentiable({});
        return out;
    }

    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        auto saved = ctx->get_saved_variables();
        auto &sh = saved[0], &R = saved[1], &aidx = saved[2], &theta = saved[3], &phi = saved[4];
        Flags f{ctx->saved_data["L"].toInt(), ctx->saved_data["inv"].toBool(), ctx->saved_data["relu"].toBool()};
        const int64_t A = ctx->saved_data["A"].toInt(), P = aidx.size(0), K = sh.size(1);
        (void)P;
        auto g = grad_out[0].contiguous().to(sh.scalar_type());
        auto acc = at::zeros({at::get_num_threads(), A, K + 12}, sh.options());
        auto g_theta = at::empty({P}, sh.options());
        AT_DISPATCH_FLOATING_TYPES(sh.scalar_type(), "world_points_backward", [&] {
            backward_kernel<scalar_t>(sh, R, aidx, theta, phi, g, f, acc, g_theta);
        });
        auto total = acc.sum(0);  // [A, K + 12]
        auto g_sh = total.narrow(1, 0, K).contiguous();
        auto g_R = total.narrow(1, K, 9).contiguous().view({A, 3, 3});
        auto g_pos = total.narrow(1, K + 9, 3).contiguous();
        return {g_sh, g_R, g_pos, at::Tensor(), g_theta, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
    }
};

class GatherUniqueFunction : public torch::autograd::Function<GatherUniqueFunction> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& idx) {
        ctx->save_for_backward({idx});
        ctx->saved_data["n"] = x.size(0);
        return x.index_select(0, idx);
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                   torch::autograd::variable_list grad_out) {
        auto idx = ctx->get_saved_variables()[0];
        auto g = grad_out[0];
        auto sizes = g.sizes().vec();
        sizes[0] = ctx->saved_data["n"].toInt();
        auto out = at::zeros(sizes, g.options());
        out.index_put_({idx}, g);  // indices are unique: a plain parallel scatter, no accumulation
        return {out, at::Tensor()};
    }
};

void check_args(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& pos, const at::Tensor& aidx,
                const at::Tensor& theta, const at::Tensor& phi, int64_t L) {
    const int64_t A = sh.size(0);
    TORCH_CHECK(sh.dim() == 2 && sh.size(1) == (L + 1) * (L + 1), "world_points: sh must be [A, ", (L + 1) * (L + 1),
                "], got ", sh.sizes());
    TORCH_CHECK(R.dim() == 3 && R.size(0) == A && R.size(1) == 3 && R.size(2) == 3,
                "world_points: R must be [A, 3, 3], got ", R.sizes());
    TORCH_CHECK(pos.dim() == 2 && pos.size(0) == A && pos.size(1) == 3, "world_points: positions must be [A, 3], got ",
                pos.sizes());
    TORCH_CHECK(aidx.dim() == 1 && theta.sizes() == aidx.sizes() && phi.sizes() == aidx.sizes(),
                "world_points: anchor_idx, theta, phi must be [P], got ", aidx.sizes(), theta.sizes(), phi.sizes());
    TORCH_CHECK(R.scalar_type() == sh.scalar_type() && pos.scalar_type() == sh.scalar_type() &&
                    theta.scalar_type() == sh.scalar_type(),
                "world_points: sh, R, positions and theta must share a dtype");
}

}  // namespace

at::Tensor world_points(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions,
                        const at::Tensor& anchor_idx, const at::Tensor& theta, const at::Tensor& phi,
                        int64_t sh_degree, bool use_inverse, bool relu) {
    check_args(sh, R, positions, anchor_idx, theta, phi, sh_degree);
    if (!sh.device().is_cpu())
        return world_points_ref(sh, R, positions, anchor_idx, theta, phi, sh_degree, use_inverse, relu);
    return WorldPointsFunction::apply(sh, R, positions, anchor_idx, theta, phi, sh_degree, use_inverse, relu);
}

at::Tensor gather_unique(const at::Tensor& x, const at::Tensor& idx) {
    TORCH_CHECK(idx.dim() == 1, "gather_unique: idx must be [n], got ", idx.sizes());
    return GatherUniqueFunction::apply(x, idx.to(at::kLong));
}

at::Tensor world_points_ref(const at::Tensor& sh, const at::Tensor& R, const at::Tensor& positions,
                            const at::Tensor& anchor_idx, const at::Tensor& theta, const at::Tensor& phi,
                            int64_t sh_degree, bool use_inverse, bool relu) {
    check_args(sh, R, positions, anchor_idx, theta, phi, sh_degree);
    auto q = sampling::local_points(sh.index_select(0, anchor_idx), theta, phi, sh_degree, use_inverse, relu);
    auto Rg = R.index_select(0, anchor_idx);
    return positions.index_select(0, anchor_idx) + (Rg * q.unsqueeze(-2)).sum(-1);
}

}  // namespace mash::ops
