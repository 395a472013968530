// SPDX-License-Identifier: MIT
#include "models/diffusion.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "mash/core/errors.h"

namespace mash::models {

Objective parse_objective(const std::string& s, const std::string& what) {
    if (s == "flow_matching") return Objective::kFlowMatching;
    if (s == "edm") return Objective::kEdm;
    throw ConfigError(what + ": unknown objective '" + s + "' (expected flow_matching or edm)");
}
std::string to_string(Objective o) { return o == Objective::kEdm ? "edm" : "flow_matching"; }

Solver parse_solver(const std::string& s, const std::string& what) {
    if (s == "euler") return Solver::kEuler;
    if (s == "heun") return Solver::kHeun;
    if (s == "dopri5") return Solver::kDopri5;
    throw ConfigError(what + ": unknown solver '" + s + "' (expected euler, heun or dopri5)");
}
std::string to_string(Solver s) {
    switch (s) {
        case Solver::kEuler: return "euler";
        case Solver::kHeun: return "heun";
        case Solver::kDopri5: return "dopri5";
    }
    return "?";
}

namespace {

// Shortest-augmenting-path phase (Kuhn–Munkres with potentials) for every row still free.
// Invariants on entry: c_ij − u_i − v_j ≥ 0 for all i, j, and = 0 on matched edges; p[j] is the
// (1-based) row matched to column j, 0 if free; row_match[i] likewise.
void augment_free_rows(const double* a, int64_t n, std::vector<double>& u, std::vector<double>& v,
                       std::vector<int64_t>& p, const std::vector<int64_t>& row_match) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> minv(n + 1);
    std::vector<int64_t> way(n + 1, 0);
    std::vector<char> used(n + 1);
    for (int64_t i = 1; i <= n; ++i) {
        if (row_match[i] != 0) continue;
        p[0] = i;
        int64_t j0 = 0;
        std::fill(minv.begin(), minv.end(), inf);
        std::fill(used.begin(), used.end(), 0);
        do {
            used[j0] = 1;
            const int64_t i0 = p[j0];
            const double* row = a + (i0 - 1) * n;
            const double ui0 = u[i0];
            double delta = inf;
            int64_t j1 = 0;
            for (int64_t j = 1; j <= n; ++j) {
                if (used[j]) continue;
                double cur = row[j - 1] - ui0 - v[j];
                if (cur < minv[j]) {
                    minv[j] = cur;
                    way[j] = j0;
                }
                if (minv[j] < delta) {
                    delta = minv[j];
                    j1 = j;
                }
            }
            for (int64_t j = 0; j <= n; ++j) {
                if (used[j]) {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
        } while (p[j0] != 0);
        do {
            int64_t j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
        } while (j0);
    }
}

std::vector<int64_t> columns_of(const std::vector<int64_t>& p, int64_t n) {
    std::vector<int64_t> assign(n);
    for (int64_t j = 1; j <= n; ++j) assign[p[j] - 1] = j - 1;
    return assign;
}

}  // namespace

std::vector<int64_t> linear_assignment_ref(const double* a, int64_t n) {
    std::vector<double> u(n + 1, 0), v(n + 1, 0);
    std::vector<int64_t> p(n + 1, 0), row_match(n + 1, 0);
    augment_free_rows(a, n, u, v, p, row_match);
    return columns_of(p, n);
}

std::vector<int64_t> linear_assignment(const double* a, int64_t n) {
    // Jonker–Volgenant initialization, then the augmenting-path phase above for what is left.
    // 1. Column reduction: v_j = min_i c_ij; the minimizing row takes column j if still free.
    // 2. Two passes of augmenting row reduction: a free row takes its cheapest column j1 (by
    //    reduced cost c_ij − v_j), lowering v_j1 by the gap to its second cheapest so the choice is
    //    stable, and evicts j1's previous row, which is retried. Most rows end up matched in O(n)
    //    each, leaving few expensive searches.
    // 3. Row potentials u_i = min_j (c_ij − v_j) make the state feasible; matched edges are tight
    //    (to rounding), as the augmenting phase needs.
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> u(n + 1, 0), v(n + 1, 0);
    std::vector<int64_t> p(n + 1, 0), row_match(n + 1, 0);
    auto c = [&](int64_t i, int64_t j) { return a[(i - 1) * n + (j - 1)]; };
    for (int64_t j = n; j >= 1; --j) {
        int64_t best = 1;
        for (int64_t i = 2; i <= n; ++i)
            if (c(i, j) < c(best, j)) best = i;
        v[j] = c(best, j);
        if (row_match[best] == 0) {
            row_match[best] = j;
            p[j] = best;
        }
    }
    std::vector<int64_t> free_rows;
    for (int64_t i = 1; i <= n; ++i)
        if (row_match[i] == 0) free_rows.push_back(i);
    for (int pass = 0; pass < 2 && !free_rows.empty() && n > 1; ++pass) {
        std::vector<int64_t> todo = std::move(free_rows), next;
        size_t k = 0;
        int64_t guard = 0;
        while (k < todo.size()) {
            const int64_t i = todo[k++];
            double u1 = inf, u2 = inf;
            int64_t j1 = 0, j2 = 0;
            for (int64_t j = 1; j <= n; ++j) {
                const double h = c(i, j) - v[j];
                if (h < u2) {
                    if (h >= u1) {
                        u2 = h;
                        j2 = j;
                    } else {
                        u2 = u1;
                        j2 = j1;
                        u1 = h;
                        j1 = j;
                    }
                }
            }
            int64_t i0 = p[j1];
            const bool strict = u1 < u2;
            if (strict) {
                v[j1] -= u2 - u1;
            } else if (i0 != 0) {  // tie: take the second column instead
                j1 = j2;
                i0 = p[j1];
            }
            if (i0 != 0) row_match[i0] = 0;
            p[j1] = i;
            row_match[i] = j1;
            if (i0 != 0) {
                if (strict && ++guard < 8 * n) todo[--k] = i0;  // retry the evicted row at once
                else next.push_back(i0);
            }
        }
        free_rows = std::move(next);
    }
    for (int64_t i = 1; i <= n; ++i) {
        double m = inf;
        for (int64_t j = 1; j <= n; ++j) m = std::min(m, c(i, j) - v[j]);
        u[i] = m;
    }
    augment_free_rows(a, n, u, v, p, row_match);
    return columns_of(p, n);
}

double completion_probability(double u) { return std::clamp(1.25 * u - 0.25, 0.0, 1.0); }

CfmPairs cfm_pairs(const at::Tensor& x1, const CfmDraws& d) {
    const int64_t B = x1.size(0), A = x1.size(1), C = x1.size(2);
    at::Tensor x0 = d.x0.to(x1.options());
    if (d.replace_u.defined() && d.replace_p > 0) x0 = at::where(d.replace_u.to(x1.device()) < d.replace_p, x1, x0);
    if (!d.ot) {
        CfmPairs out;
        at::Tensor t = d.t.to(x1.options()).reshape({B, 1, 1});
        out.x_t = t * x1 + (1 - t) * x0;
        out.target = x1 - x0;
        out.t = d.t.to(x1.options()).reshape({B});
        return out;
    }
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor cost = at::cdist(x0.detach().to(at::kCPU, at::kDouble), x1.detach().to(at::kCPU, at::kDouble)).pow(2).contiguous();
    at::Tensor assign = at::empty({B, A}, at::kLong);
    const double* cp = cost.data_ptr<double>();
    int64_t* ap = assign.data_ptr<int64_t>();
    at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
            auto r = linear_assignment(cp + b * A * A, A);
            std::copy(r.begin(), r.end(), ap + b * A);
        }
    });
    CfmPairs out;
    out.ot_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    at::Tensor i_idx = d.pair_draws.to(at::kCPU, at::kLong);  // which matched pair: noise row i
    at::Tensor j_idx = assign.gather(1, i_idx);               // its data row
    auto take = [&](const at::Tensor& x, const at::Tensor& idx) {
        return x.gather(1, idx.to(x.device()).unsqueeze(-1).expand({B, A, C}));
    };
    at::Tensor x0p = take(x0, i_idx), x1p = take(x1, j_idx);
    at::Tensor t = d.t.to(x1.options()).reshape({B, 1, 1});
    out.x_t = t * x1p + (1 - t) * x0p;
    out.target = x1p - x0p;
    out.t = d.t.to(x1.options()).reshape({B});
    return out;
}

EdmScalings edm_scalings(const at::Tensor& sigma, double sd) {
    EdmScalings s;
    at::Tensor s2 = sigma * sigma + sd * sd;
    s.c_skip = (sd * sd) / s2;
    s.c_out = sigma * sd / s2.sqrt();
    s.c_in = 1 / s2.sqrt();
    s.c_noise = sigma.log() / 4;
    return s;
}

at::Tensor edm_loss_weight(const at::Tensor& sigma, double sd) {
    return (sigma * sigma + sd * sd) / (sigma * sd).pow(2);
}

std::vector<double> edm_sigmas(int64_t N, const EdmOptions& o) {
    std::vector<double> s;
    const double a = std::pow(o.sigma_max, 1.0 / o.rho), b = std::pow(o.sigma_min, 1.0 / o.rho);
    for (int64_t i = 0; i < N; ++i) s.push_back(std::pow(a + (N > 1 ? double(i) / double(N - 1) : 0.0) * (b - a), o.rho));
    s.push_back(0.0);
    return s;
}

namespace {

double rms(const at::Tensor& x) { return std::sqrt(x.pow(2).mean().item<double>()); }

at::Tensor dopri5(const VelocityFn& f, const at::Tensor& y_in, double rtol, double atol, OdeStats& st, int64_t max_steps) {
    static const double c[] = {0, 1. / 5, 3. / 10, 4. / 5, 8. / 9, 1, 1};
    static const double A[6][6] = {{1. / 5},
                                   {3. / 40, 9. / 40},
                                   {44. / 45, -56. / 15, 32. / 9},
                                   {19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729},
                                   {9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656},
                                   {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84}};
    static const double b5[] = {35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84, 0};
    static const double b4[] = {5179. / 57600, 0, 7571. / 16695, 393. / 640, -92097. / 339200, 187. / 2100, 1. / 40};
    auto F = [&](const at::Tensor& y, double t) {
        ++st.nfe;
        return f(y, t);
    };
    at::Tensor y = y_in;
    double t = 0.0;
    at::Tensor k1 = F(y, t);
    // Hairer's initial step (order 4 → exponent 1/5), as torchdiffeq.
    at::Tensor scale = atol + rtol * y.abs();
    double d0 = rms(y / scale), d1 = rms(k1 / scale);
    double h0 = (d0 < 1e-5 || d1 < 1e-5) ? 1e-6 : 0.01 * d0 / d1;
    at::Tensor k1b = F(y + h0 * k1, t + h0);
    double d2 = rms((k1b - k1) / scale) / h0;
    double h1 = std::max(d1, d2) <= 1e-15 ? std::max(1e-6, h0 * 1e-3) : std::pow(0.01 / std::max(d1, d2), 1.0 / 5.0);
    double h = std::min(100 * h0, h1);
    int64_t steps = 0;
    while (t < 1.0) {
        if (++steps > max_steps)
            throw InputError("dopri5: more than " + std::to_string(max_steps) + " steps (tolerances too tight or the field is stiff)");
        h = std::min(h, 1.0 - t);
        std::vector<at::Tensor> k{k1};
        for (int s = 0; s < 6; ++s) {
            at::Tensor yi = y;
            for (int j = 0; j <= s; ++j)
                if (A[s][j] != 0) yi = yi + (h * A[s][j]) * k[j];
            k.push_back(F(yi, t + c[s + 1] * h));
        }
        at::Tensor y5 = y;
        at::Tensor err = at::zeros_like(y);
        for (int j = 0; j < 7; ++j) {
            if (b5[j] != 0) y5 = y5 + (h * b5[j]) * k[j];
            if (b5[j] - b4[j] != 0) err = err + (h * (b5[j] - b4[j])) * k[j];
        }
        at::Tensor tol = atol + rtol * at::max(y.abs(), y5.abs());
        double ratio = rms(err / tol);
        if (ratio <= 1.0) {
            ++st.accepted;
            t = (h >= 1.0 - t) ? 1.0 : t + h;
            y = y5;
            k1 = k[6];  // FSAL
        } else {
            ++st.rejected;
        }
        double factor = ratio == 0 ? 10.0 : std::min(10.0, std::max(0.9 / std::pow(ratio, 1.0 / 5.0), ratio < 1 ? 1.0 : 0.2));
        h *= factor;
    }
    return y;
}

}  // namespace

at::Tensor integrate(const VelocityFn& f, const at::Tensor& x0, Solver solver, int64_t steps, double rtol, double atol,
                     OdeStats* stats, int64_t max_steps) {
    OdeStats local;
    OdeStats& st = stats ? *stats : local;
    if (solver == Solver::kDopri5) return dopri5(f, x0, rtol, atol, st, max_steps);
    if (steps < 1) throw ConfigError("sampler: steps must be >= 1");
    at::Tensor x = x0;
    const double h = 1.0 / static_cast<double>(steps);
    for (int64_t i = 0; i < steps; ++i) {
        const double t = i * h;
        at::Tensor v = f(x, t);
        ++st.nfe;
        if (solver == Solver::kEuler) {
            x = x + h * v;
        } else {
            at::Tensor xe = x + h * v;
            at::Tensor v2 = f(xe, t + h);
            ++st.nfe;
            x = x + (0.5 * h) * (v + v2);
        }
        ++st.accepted;
    }
    return x;
}

VelocityFn freeze_rows(VelocityFn f, int64_t K) {
    if (K <= 0) return f;
    return [f = std::move(f), K](const at::Tensor& x, double t) {
        at::Tensor v = f(x, t);
        v = v.clone();
        v.narrow(1, 0, K).zero_();
        return v;
    };
}

at::Tensor edm_sample(const std::function<at::Tensor(const at::Tensor&, double)>& denoise, const at::Tensor& noise,
                      int64_t steps, const EdmOptions& o, const at::Tensor& fixed, const at::Tensor& fixed_noise,
                      OdeStats* stats) {
    OdeStats local;
    OdeStats& st = stats ? *stats : local;
    const auto s = edm_sigmas(steps, o);
    const int64_t K = fixed.defined() ? fixed.size(0) : 0;
    at::Tensor gt, gn;
    if (K > 0) {
        gt = fixed.to(noise.device(), at::kDouble).unsqueeze(0).expand({noise.size(0), K, noise.size(2)});
        gn = fixed_noise.to(noise.device(), at::kDouble);
    }
    auto renoise = [&](at::Tensor x, double sigma) {
        if (K > 0) {
            x = x.clone();
            x.narrow(1, 0, K).copy_(gt + sigma * gn);
        }
        return x;
    };
    auto D = [&](const at::Tensor& x, double sigma) {
        ++st.nfe;
        return denoise(x.to(at::kFloat), sigma).to(at::kDouble);
    };
    at::Tensor x = noise.to(at::kDouble) * s[0];
    for (int64_t i = 0; i < steps; ++i) {
        const double sc = s[i], sn = s[i + 1];
        x = renoise(x, sc);
        at::Tensor d = (x - D(x, sc)) / sc;
        at::Tensor xn = x + (sn - sc) * d;
        if (sn > 0) {
            xn = renoise(xn, sn);
            at::Tensor d2 = (xn - D(xn, sn)) / sn;
            xn = x + (sn - sc) * 0.5 * (d + d2);
        }
        x = xn;
        ++st.accepted;
    }
    if (K > 0) x.narrow(1, 0, K).copy_(gt);
    return x;
}

}  // namespace mash::models
