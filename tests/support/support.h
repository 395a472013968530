// SPDX-License-Identifier: MIT
// Test helpers: float64 finite-difference gradient checks and tensor comparisons.
#pragma once
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

namespace mash::test {

/// Result of a gradient check: the worst mismatch found.
struct GradcheckResult {
    bool ok = true;
    double max_abs_err = 0;
    std::string worst;  ///< "input i, element j: analytic a vs numeric n"
};

/// Central differences in float64 (eps 1e-6, atol 1e-5, rtol 1e-3, as torch.autograd.gradcheck).
/// f maps the inputs (float64, requires_grad set by the checker) to any tensor; the check projects
/// the output on a fixed random direction u and compares d<f,u>/dx for up to max_elems elements
/// of each input.
GradcheckResult gradcheck(const std::function<at::Tensor(const std::vector<at::Tensor>&)>& f, std::vector<at::Tensor> inputs,
                          int64_t max_elems = 400, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3);

/// n points of a noisy sphere shell (radius 0.4, noise 0.002), a surface-like set for the
/// nearest-neighbour tests; points 500..529 are exact copies of point 499 (the tie rule).
at::Tensor noisy_sphere_shell(at::Generator& gen, int64_t n, at::ScalarType dtype);

/// rings × per_ring samples on an open cylinder band (radius r, height h, axis z, centred at the
/// origin; rings staggered by half a step) with outward normals: an open sheet.
void band_samples(int rings, int per_ring, double r, double h, std::vector<double>& points, std::vector<double>& normals);
/// An open cup: the lower half (z < 0) of a golden-spiral sampling of the sphere of radius r
/// about the origin with 2n points (n kept), outward (convex-side) normals.
void cup_samples(int n, double r, std::vector<double>& points, std::vector<double>& normals);

/// n random surfels (float64): points ~ N(0, I), unit normals, radii uniform in [0, max_radius).
struct RandomSurfels {
    at::Tensor points, normals, radii;
};
RandomSurfels random_surfels(at::Generator& gen, int64_t n, double max_radius);

/// A seeded CPU generator.
at::Generator make_gen(uint64_t seed);

/// max |a − b| (shapes must match; throws otherwise).
double max_abs_diff(const at::Tensor& a, const at::Tensor& b);

/// Path to a fixture in the repository's tests/data.
std::string test_data(const std::string& rel);
/// A fresh temporary directory for this test process.
std::string temp_dir();

}  // namespace mash::test
