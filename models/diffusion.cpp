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
        case Solver::kEuler:
            return "euler";
        case Solver::kHeun:
            return "heun";
        case Solver::kDopri5:
            return "dopri5";
    }
    return "?";
}

namespace {

// Shortest-augmenting-path phase (Kuhn–Munkres with potentials) for every row still free.
// Invariants on entry: c_ij − u_i − v_j ≥ 0 for all i, j, and = 0 on matched edges; p[j] is the
// (1-based) row matched to column j, 0 if free; row_match[i] likewise.
void augment_free_rows(const double* a, int64_t n, std::vector<double>& u, std::vector<double>& v, std::vector<int64_t>& p,
                       const std::vector<int64_t>& row_match) {
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
                if (strict && ++guard < 8 * n)
                    todo[--k] = i0;  // retry the evicted row at once
                else
                    next.push_back(i0);
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

at::Tensor edm_loss_weight(const at::Tensor& sigma, double sd) { return (sigma * sigma + sd * sd) / (sigma * sd).pow(2); }

std::vector<double> edm_sigmas(int64_t N, const EdmOptions& o) {
    std::vector<double> s;
    const double a = std::pow(o.sigma_max, 1.0 / o.rho), b = std::pow(o.sigma_min, 1.0 / o.rho);
    for (int64_t i = 0; i < N; ++i) s.push_back(std::pow(a + (N > 1 ? double(i) / double(N - 1) : 0.0) * (b - a), o.rho));
    s.push_back(0.0);
    return s;
}

namespace {

// torchdiffeq 0.2.5's dopri5, operation for operation: the state and the Runge–Kutta arithmetic
// keep y's dtype, time-like values are float64 0-d tensors (as there), and every step uses the
// same ATen ops in the same order, so the solver's own rounding matches the Python original.
// Stages: Dormand–Prince tableau; error weights 5th order − Shampine's 4th order; the network sees
// t in y's dtype, the last stage just below t1 (nextafter); FSAL; 4th-order dense output through
// y0, y1, y_mid, f0, f1; steps go past a query time and the value there is interpolated.
struct DopriTableau {
    at::Tensor alpha, c_error, mid;
    std::vector<at::Tensor> beta;
};

DopriTableau dopri_tableau(const at::TensorOptions& o) {
    auto t = [&](std::vector<double> v) { return at::tensor(v, at::kDouble).to(o); };
    DopriTableau tb;
    tb.alpha = t({1. / 5, 3. / 10, 4. / 5, 8. / 9, 1., 1.});
    tb.beta = {t({1. / 5}),
               t({3. / 40, 9. / 40}),
               t({44. / 45, -56. / 15, 32. / 9}),
               t({19372. / 6561, -25360. / 2187, 64448. / 6561, -212. / 729}),
               t({9017. / 3168, -355. / 33, 46732. / 5247, 49. / 176, -5103. / 18656}),
               t({35. / 384, 0, 500. / 1113, 125. / 192, -2187. / 6784, 11. / 84})};
    tb.c_error = t({35. / 384 - 1951. / 21600, 0, 500. / 1113 - 22642. / 50085, 125. / 192 - 451. / 720,
                    -2187. / 6784 - -12231. / 42400, 11. / 84 - 649. / 6300, -1. / 60.});
    tb.mid = t({6025192743. / 30085553152. / 2, 0, 51252292925. / 65400821598. / 2, -2691868925. / 45128329728. / 2,
                187940372067. / 1594534317056. / 2, -1776094331. / 19743644256. / 2, 11237099. / 235043384. / 2});
    return tb;
}

at::Tensor rms_norm(const at::Tensor& x) { return x.abs().pow(2).mean().sqrt(); }
bool is_true(const at::Tensor& b) { return b.item<bool>(); }

struct RkState {
    at::Tensor y1, f1, t0, t1, dt;   // t0, t1, dt: float64 0-d
    std::vector<at::Tensor> interp;  // [e, d, c, b, a]
};

class Dopri5 {
public:
    Dopri5(const VelocityFn& f, const at::Tensor& y0, double rtol, double atol, OdeStats& st, int64_t max_steps)
        : f_(f), st_(st), max_steps_(max_steps), y0_(y0) {
        const auto o64 = at::TensorOptions().dtype(at::promote_types(at::kDouble, y0.scalar_type())).device(y0.device());
        rtol_ = at::scalar_tensor(rtol, o64);
        atol_ = at::scalar_tensor(atol, o64);
        safety_ = at::scalar_tensor(0.9, o64);
        ifactor_ = at::scalar_tensor(10.0, o64);
        dfactor_ = at::scalar_tensor(0.2, o64);
        min_step_ = at::scalar_tensor(0.0, o64);
        max_step_ = at::scalar_tensor(std::numeric_limits<double>::infinity(), o64);
        tb_ = dopri_tableau(y0.options());
    }

    std::vector<at::Tensor> integrate(const at::Tensor& t_query) {
        const at::Tensor t = t_query.to(min_step_.options());
        std::vector<at::Tensor> out{y0_};
        const at::Tensor f0 = call(t[0], y0_, false);
        const at::Tensor h = initial_step(t[0], f0);
        s_ = {y0_, f0, t[0], t[0], h, std::vector<at::Tensor>(5, y0_)};
        for (int64_t i = 1; i < t.size(0); ++i) {
            const at::Tensor next_t = t[i];
            while (is_true(next_t > s_.t1)) {
                if (++steps_ > max_steps_)
                    throw InputError("dopri5: more than " + std::to_string(max_steps_) +
                                     " steps (tolerances too tight or the field is stiff)");
                s_ = step(s_);
            }
            out.push_back(evaluate(s_.interp, s_.t0, s_.t1, next_t));
        }
        return out;
    }

private:
    // The network sees t in y's dtype; `prev` moves it to the float just below (the last stage).
    at::Tensor call(const at::Tensor& t, const at::Tensor& y, bool prev) {
        at::Tensor tt = t.to(y.scalar_type());
        if (prev) tt = at::nextafter(tt, tt - 1);
        ++st_.nfe;
        return f_(y, tt.item<double>());
    }

    // Hairer, Nørsett & Wanner II.4 with order 4 (exponent 1/5), in y's dtype.
    at::Tensor initial_step(const at::Tensor& t0, const at::Tensor& f0) {
        const at::Tensor& y0 = y0_;
        const at::Tensor scale = atol_ + at::abs(y0) * rtol_;
        const at::Tensor d0 = rms_norm(y0 / scale).abs(), d1 = rms_norm(f0 / scale).abs();
        at::Tensor h0 = (is_true(d0 < 1e-5) || is_true(d1 < 1e-5)) ? at::scalar_tensor(1e-6, y0.options()) : d0 * 0.01 / d1;
        h0 = h0.abs();
        const at::Tensor y1 = y0 + h0 * f0;
        const at::Tensor f1 = call(t0 + h0, y1, false);
        const at::Tensor d2 = at::abs(rms_norm((f1 - f0) / scale) / h0);
        at::Tensor h1;
        if (is_true(d1 <= 1e-15) && is_true(d2 <= 1e-15)) {
            h1 = at::maximum(at::scalar_tensor(1e-6, y0.options()), h0 * 1e-3);
        } else {
            const at::Tensor m = is_true(d2 > d1) ? d2 : d1;
            h1 = at::pow(m.reciprocal() * 0.01, 1. / 5.);
        }
        h1 = h1.abs();
        return at::minimum(h0 * 100, h1).to(min_step_.scalar_type());
    }

    RkState step(const RkState& s) {
        const at::Tensor &y0 = s.y1, &f0 = s.f1, &t0 = s.t1;
        at::Tensor dt = s.dt;
        if (!is_true(at::isfinite(dt))) dt = min_step_;
        dt = dt.clamp(min_step_, max_step_);
        const at::Tensor t1 = t0 + dt;
        if (!is_true(t0 + dt > t0)) throw InputError("dopri5: step size underflow at t = " + std::to_string(t0.item<double>()));
        if (!is_true(at::isfinite(y0).all())) throw InputError("dopri5: non-finite values in the state");

        // One Runge–Kutta step; k[..., i] is stage i.
        const auto ydt = y0.scalar_type();
        const at::Tensor t0y = t0.to(ydt), dty = dt.to(ydt), t1y = t1.to(ydt);
        std::vector<int64_t> kshape(f0.sizes().begin(), f0.sizes().end());
        kshape.push_back(7);
        at::Tensor k = at::empty(kshape, y0.options());
        k.select(-1, 0).copy_(f0);
        at::Tensor yi;
        for (int64_t i = 0; i < 6; ++i) {
            const at::Tensor alpha_i = tb_.alpha[i];
            const bool last = is_true(alpha_i == 1.);
            const at::Tensor ti = last ? t1y : t0y + alpha_i * dty;
            yi = y0 + at::sum(k.narrow(-1, 0, i + 1) * (tb_.beta[i] * dty), -1).view_as(f0);
            k.select(-1, i + 1).copy_(call(ti, yi, last));
        }
        const at::Tensor y1 = yi;  // first same as last: the 5th-order solution is the last stage's input
        const at::Tensor f1 = k.select(-1, 6);
        const at::Tensor err = at::sum(k * (dty * tb_.c_error), -1);

        const at::Tensor tol = atol_ + rtol_ * at::max(y0.abs(), y1.abs());
        const at::Tensor ratio = rms_norm(err / tol).abs();
        bool accept = is_true(ratio <= 1);
        if (is_true(dt > max_step_)) accept = false;
        if (is_true(dt <= min_step_)) accept = true;

        RkState n;
        n.t0 = t0;
        if (accept) {
            ++st_.accepted;
            n.t1 = t1;
            n.y1 = y1;
            n.f1 = f1;
            n.interp = fit(y0, y1, k, dt);
        } else {
            ++st_.rejected;
            n.t1 = t0;
            n.y1 = y0;
            n.f1 = f0;
            n.interp = s.interp;
        }
        n.dt = optimal_step(dt, ratio).clamp(min_step_, max_step_);
        return n;
    }

    std::vector<at::Tensor> fit(const at::Tensor& y0, const at::Tensor& y1, const at::Tensor& k, const at::Tensor& dt64) {
        const at::Tensor dt = dt64.to(y0.scalar_type());
        const at::Tensor y_mid = y0 + at::sum(k * (dt * tb_.mid), -1).view_as(y0);
        const at::Tensor f0 = k.select(-1, 0), f1 = k.select(-1, 6);
        at::Tensor a = dt * 2 * (f1 - f0) - (y1 + y0) * 8 + y_mid * 16;
        at::Tensor b = dt * (f0 * 5 - f1 * 3) + y0 * 18 + y1 * 14 - y_mid * 32;
        at::Tensor c = dt * (f1 - f0 * 4) - y0 * 11 - y1 * 5 + y_mid * 16;
        at::Tensor d = dt * f0;
        return {y0, d, c, b, a};
    }

    static at::Tensor evaluate(const std::vector<at::Tensor>& co, const at::Tensor& t0, const at::Tensor& t1,
                               const at::Tensor& t) {
        const at::Tensor x = ((t - t0) / (t1 - t0)).to(co[0].scalar_type());
        at::Tensor total = co[0] + x * co[1];
        at::Tensor xp = x;
        for (size_t i = 2; i < co.size(); ++i) {
            xp = xp * x;
            total = total + xp * co[i];
        }
        return total;
    }

    at::Tensor optimal_step(const at::Tensor& last, const at::Tensor& ratio) {
        if (is_true(ratio == 0)) return last * ifactor_;
        const at::Tensor dfactor = is_true(ratio < 1) ? at::ones({}, last.options()) : dfactor_;
        const at::Tensor r = ratio.to(last.scalar_type());
        const at::Tensor exponent = at::scalar_tensor(5.0, last.options()).reciprocal();
        const at::Tensor factor = at::minimum(ifactor_, at::maximum(safety_ / r.pow(exponent), dfactor));
        return last * factor;
    }

    const VelocityFn& f_;
    OdeStats& st_;
    int64_t max_steps_, steps_ = 0;
    at::Tensor y0_, rtol_, atol_, safety_, ifactor_, dfactor_, min_step_, max_step_;
    DopriTableau tb_;
    RkState s_;
};

}  // namespace

std::vector<at::Tensor> odeint_dopri5(const VelocityFn& f, const at::Tensor& x0, const at::Tensor& query_t, double rtol,
                                      double atol, OdeStats* stats, int64_t max_steps) {
    if (query_t.dim() != 1 || query_t.size(0) < 2)
        throw InputError("dopri5: query times must be a list of at least 2 values (got shape " +
                         std::to_string(query_t.dim() == 1 ? query_t.size(0) : -1) + ")");
    const at::Tensor q = query_t.to(at::kCPU, at::kDouble);
    if (!is_true((q.narrow(0, 1, q.size(0) - 1) > q.narrow(0, 0, q.size(0) - 1)).all()))
        throw InputError("dopri5: query times must be strictly increasing");
    OdeStats local;
    Dopri5 solver(f, x0, rtol, atol, stats ? *stats : local, max_steps);
    return solver.integrate(query_t.to(x0.device()));
}

at::Tensor integrate(const VelocityFn& f, const at::Tensor& x0, Solver solver, int64_t steps, double rtol, double atol,
                     OdeStats* stats, int64_t max_steps) {
    OdeStats local;
    OdeStats& st = stats ? *stats : local;
    if (solver == Solver::kDopri5)
        return odeint_dopri5(f, x0, at::tensor({0.0, 1.0}, at::kDouble), rtol, atol, &st, max_steps).back();
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

at::Tensor edm_sample(const std::function<at::Tensor(const at::Tensor&, double)>& denoise, const at::Tensor& noise, int64_t steps,
                      const EdmOptions& o, const at::Tensor& fixed, const at::Tensor& fixed_noise, OdeStats* stats) {
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
