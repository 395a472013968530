// SPDX-License-Identifier: MIT
#include "models/ode.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "mash/core/errors.h"

namespace mash::models {

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

}  // namespace mash::models
