// SPDX-License-Identifier: MIT
#include "mash/ops/mask/mask.h"

#include <ATen/ATen.h>
#include <torch/library.h>

#include <cmath>
#include <string>
#include <vector>

#include "mash/core/errors.h"
#include "mash/core/limits.h"

namespace mash::ops::mask {

at::Tensor basis(const at::Tensor& phi, int64_t degree) {
    if (degree < 0 || degree > kMaxMaskDegree)
        throw InputError("mask: degree " + std::to_string(degree) + " out of range (expected 0..10)");
    TORCH_CHECK(phi.dim() == 1, "ops::mask::basis: phi must be [S], got ", phi.sizes());
    std::vector<at::Tensor> cols{at::ones_like(phi)};
    for (int64_t k = 1; k <= degree; ++k) {
        auto kphi = phi * double(k);
        cols.push_back(at::cos(kphi));
        cols.push_back(at::sin(kphi));
    }
    return at::stack(cols, 1);
}

at::Tensor thetas(const at::Tensor& params, const at::Tensor& basis) {
    TORCH_CHECK(params.dim() == 2 && basis.dim() == 2 && params.size(1) == basis.size(1),
                "ops::mask::thetas: params [A, M] and basis [S, M] must agree in M, got ", params.sizes(), " and ",
                basis.sizes());
    return at::sigmoid(at::matmul(params, basis.t())) * M_PI;
}

}  // namespace mash::ops::mask

// torch.ops.mash.mask_thetas(params, basis): θmax as a torch operator (an ATen composition:
// autograd and torch.compile go through its parts), for the Python sampling pass.
TORCH_LIBRARY_FRAGMENT(mash, m) { m.def("mask_thetas(Tensor params, Tensor basis) -> Tensor"); }
TORCH_LIBRARY_IMPL(mash, CompositeImplicitAutograd, m) { m.impl("mask_thetas", &mash::ops::mask::thetas); }
