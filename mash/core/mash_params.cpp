// SPDX-License-Identifier: MIT
#include "mash/core/mash_params.h"

#include <cmath>

#include "mash/core/errors.h"
#include "mash/core/limits.h"

namespace mash {

MashParams MashParams::zeros(int64_t num_anchors, int64_t mask_degree, int64_t sh_degree) {
    MashParams p;
    p.num_anchors = num_anchors;
    p.mask_degree = mask_degree;
    p.sh_degree = sh_degree;
    p.mask_params.assign(num_anchors * p.mask_dim(), 0.0);
    p.sh_params.assign(num_anchors * p.sh_dim(), 0.0);
    p.rotate_vectors.assign(num_anchors * 3, 0.0);
    p.positions.assign(num_anchors * 3, 0.0);
    return p;
}

void MashParams::validate(const std::string& what) const {
    if (num_anchors < 1) throw InputError(what + ": MASH has no anchors (expected A >= 1)");
    if (mask_degree < 0 || mask_degree > kMaxMaskDegree)
        throw InputError(what + ": mask degree " + std::to_string(mask_degree) + " out of range (expected 0..10)");
    if (sh_degree < 0 || sh_degree > kMaxShDegree)
        throw InputError(what + ": SH degree " + std::to_string(sh_degree) + " out of range (expected 0..6)");
    auto check = [&](const char* name, const std::vector<double>& v, int64_t cols) {
        if (int64_t(v.size()) != num_anchors * cols)
            throw InputError(what + ": " + name + " has " + std::to_string(v.size()) + " values, expected " +
                             std::to_string(num_anchors) + "x" + std::to_string(cols));
        for (size_t i = 0; i < v.size(); ++i) {
            if (!std::isfinite(v[i]))
                throw InputError(what + ": " + name + " has a non-finite value (" + std::to_string(v[i]) + ") at anchor " +
                                 std::to_string(int64_t(i) / cols));
        }
    };
    check("mask_params", mask_params, mask_dim());
    check("sh_params", sh_params, sh_dim());
    check("rotate_vectors", rotate_vectors, 3);
    check("positions", positions, 3);
}

int64_t MashParams::count_nonpositive_rho() const {
    int64_t n = 0;
    for (int64_t a = 0; a < num_anchors; ++a) n += sh_params[a * sh_dim()] <= 0.0;
    return n;
}

void MashParams::scale(double s) {
    for (auto& v : positions) v *= s;
    for (auto& v : sh_params) v *= s;
}

void MashParams::translate(double dx, double dy, double dz) {
    for (int64_t a = 0; a < num_anchors; ++a) {
        positions[3 * a] += dx;
        positions[3 * a + 1] += dy;
        positions[3 * a + 2] += dz;
    }
}

}  // namespace mash
