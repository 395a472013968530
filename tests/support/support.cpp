// SPDX-License-Identifier: MIT
#include "tests/support/support.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>
#include <torch/csrc/autograd/autograd.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <stdexcept>

namespace mash::test {

GradcheckResult gradcheck(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f, std::vector<at::Tensor> inputs,
                          int64_t max_elems, double eps, double atol, double rtol) {
    for (auto& x : inputs) x = x.detach().to(at::kDouble).clone().requires_grad_(true);
    at::Tensor out = f(inputs);
    auto gen = mash::test::make_gen(1234);
    at::Tensor u = at::randn(out.sizes(), gen, out.options().requires_grad(false));
    at::Tensor proj = (out * u).sum();
    std::vector<at::Tensor> grads(inputs.size());
    if (proj.requires_grad()) grads = torch::autograd::grad({proj}, inputs, {}, false, false, true);
    GradcheckResult res;
    for (size_t k = 0; k < inputs.size(); ++k) {
        at::Tensor g = grads[k].defined() ? grads[k] : at::zeros_like(inputs[k]);
        at::Tensor flat = inputs[k].detach().reshape({-1});
        const int64_t n = flat.numel();
        const int64_t step = std::max<int64_t>(1, n / std::max<int64_t>(1, max_elems));
        for (int64_t j = 0; j < n; j += step) {
            auto eval = [&](double delta) {
                at::NoGradGuard ng;
                std::vector<at::Tensor> xs;
                for (size_t m = 0; m < inputs.size(); ++m) {
                    at::Tensor x = inputs[m].detach().clone();
                    if (m == k) x.view({-1})[j] += delta;
                    xs.push_back(x);
                }
                return (f(xs) * u).sum().item<double>();
            };
            double numeric = (eval(eps) - eval(-eps)) / (2 * eps);
            double analytic = g.reshape({-1})[j].item<double>();
            double err = std::abs(numeric - analytic);
            if (!std::isfinite(analytic)) err = INFINITY;
            if (err > res.max_abs_err) {
                res.max_abs_err = err;
                std::ostringstream os;
                os << "input " << k << ", element " << j << ": analytic " << analytic << " vs numeric " << numeric;
                res.worst = os.str();
            }
            if (!(err <= atol + rtol * std::abs(numeric))) res.ok = false;
        }
    }
    return res;
}

at::Tensor noisy_sphere_shell(at::Generator& gen, int64_t n, at::ScalarType dtype) {
    auto o = at::TensorOptions().dtype(dtype);
    auto dir = at::randn({n, 3}, gen, o);
    auto p = dir / dir.norm(2, 1, true) * 0.4 + at::randn({n, 3}, gen, o) * 0.002;
    p.narrow(0, 500, 30).copy_(p.narrow(0, 499, 1).expand({30, 3}));
    return p;
}

RandomSurfels random_surfels(at::Generator& gen, int64_t n, double max_radius) {
    const auto f64 = at::TensorOptions().dtype(at::kDouble);
    RandomSurfels s;
    s.points = at::randn({n, 3}, gen, f64);
    s.normals = at::randn({n, 3}, gen, f64);
    s.normals = s.normals / s.normals.norm(2, 1, true);
    s.radii = at::rand({n}, gen, f64) * max_radius;
    return s;
}

at::Generator make_gen(uint64_t seed) { return at::make_generator<at::CPUGeneratorImpl>(seed); }

double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
    if (a.sizes() != b.sizes()) {
        std::ostringstream os;
        os << "max_abs_diff: shape mismatch " << a.sizes() << " vs " << b.sizes();
        throw std::runtime_error(os.str());
    }
    if (a.numel() == 0) return 0.0;
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

std::string test_data(const std::string& rel) { return std::string(MASH_TEST_DATA) + "/" + rel; }

std::string temp_dir() {
    static std::string dir;
    if (dir.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "mash_test_XXXXXX").string();
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("temp_dir: mkdtemp failed");
        dir = tmpl;
    }
    return dir;
}

void band_samples(int rings, int per_ring, double r, double h, std::vector<double>& points, std::vector<double>& normals) {
    for (int i = 0; i < rings; ++i)
        for (int j = 0; j < per_ring; ++j) {
            const double a = 2 * M_PI * (j + 0.5 * (i % 2)) / per_ring, z = h * ((i + 0.5) / rings - 0.5);
            points.insert(points.end(), {r * std::cos(a), r * std::sin(a), z});
            normals.insert(normals.end(), {std::cos(a), std::sin(a), 0.0});
        }
}

void cup_samples(int n, double r, std::vector<double>& points, std::vector<double>& normals) {
    const double golden = M_PI * (3.0 - std::sqrt(5.0));
    for (int i = n; i < 2 * n; ++i) {
        const double z = 1.0 - 2.0 * (i + 0.5) / (2 * n), s = std::sqrt(1.0 - z * z), phi = golden * i;
        const double u[3] = {s * std::cos(phi), s * std::sin(phi), z};
        points.insert(points.end(), {r * u[0], r * u[1], r * u[2]});
        normals.insert(normals.end(), {u[0], u[1], u[2]});
    }
}

}  // namespace mash::test
