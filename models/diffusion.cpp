// SPDX-License-Identifier: MIT
#include "models/diffusion.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

#include "models/assignment.h"

namespace mash::models {

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
