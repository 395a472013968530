// SPDX-License-Identifier: MIT
// Internal to mash/mesh's surface steps (patches, cloud normals, Poisson, extract): packed
// [N*3] double vectors and [N, 3] tensors, and Open3D's log level. Not part of the public API.
#pragma once
#include <ATen/ATen.h>

#include <vector>

namespace mash::mesh::detail {

inline const at::TensorOptions kF64 = at::TensorOptions().dtype(at::kDouble);

inline at::Tensor as_tensor(const std::vector<double>& v) {
    return at::from_blob(const_cast<double*>(v.data()), {int64_t(v.size() / 3), 3}, kF64).clone();
}
inline std::vector<double> as_vector(const at::Tensor& t) {
    auto c = t.to(at::kDouble).contiguous();
    return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}
/// Open3D prints errors only (defined with Poisson, in builds with Open3D).
void quiet_open3d();

}  // namespace mash::mesh::detail
