# SPDX-License-Identifier: MIT
"""The sampling pass of a MASH (spec §4–5) as a composition of torch operators, so that autograd
and ``torch.compile`` see every step: ``mash.axis_angle_to_matrix``, ``mash.mask_thetas`` (ATen
compositions), ``mash.world_points`` (fused CPU/CUDA kernels with a C++ autograd function),
``mash.in_mask`` and ``mash.fps_packed`` (index selections whose sizes depend on the data: their
fake kernels below give torch.compile an unbacked size) and ``mash.gather_unique`` (a row gather
with the C++ library's scatter backward). It is the C++ ``Mash::forward`` step for
step, so the points are the same bits."""
from __future__ import annotations

import torch

from . import _C  # noqa: F401  (loads the libraries that define torch.ops.mash)


@torch.library.register_fake("mash::in_mask")
def _in_mask_fake(boundary_thetas, theta_hat, dir_thetas):
    m = torch.library.get_ctx().new_dynamic_size()
    idx = theta_hat.new_empty((m,), dtype=torch.int64)
    return idx, torch.empty_like(idx), theta_hat.new_empty((theta_hat.shape[0],), dtype=torch.int64)


@torch.library.register_fake("mash::fps_packed")
def _fps_packed_fake(points, offsets, keep):
    return points.new_empty((torch.library.get_ctx().new_dynamic_size(),), dtype=torch.int64)


def sample_pass(rotate_vectors, positions, mask_params, sh_params, buffers: dict, sh_degree: int, use_inverse: bool,
                fps_scale: float, subsample: bool = True) -> dict:
    """One sampling pass. Parameters [A, 3], [A, 3], [A, 2K+1], [A, (L+1)²]; ``buffers`` holds the
    fixed directions (``direction_phis``/``_thetas`` [N], ``direction_basis`` [N, 2K+1]) and
    boundary azimuths (``boundary_phis`` [B], ``boundary_basis`` [B, 2K+1]). Returns
    ``boundary_points`` [A·B, 3], ``boundary_anchor_idx``, ``inner_points`` [M, 3],
    ``inner_anchor_idx``, ``inner_direction_idx`` [M] and ``inner_counts`` [A] (before FPS)."""
    ops = torch.ops.mash
    A = positions.shape[0]
    dir_phis, dir_thetas = buffers["direction_phis"], buffers["direction_thetas"]
    bnd_phis = buffers["boundary_phis"]
    N, B = dir_thetas.shape[0], bnd_phis.shape[0]
    R = ops.axis_angle_to_matrix(rotate_vectors)

    # Boundary: θb = π·sigmoid(s_a(φ_j)), differentiable.
    bnd_thetas = ops.mask_thetas(mask_params, buffers["boundary_basis"])  # [A, B]
    bnd_idx = torch.arange(A, dtype=torch.int64, device=positions.device).repeat_interleave(B)
    bnd_points = ops.world_points(sh_params, R, positions, bnd_idx, bnd_thetas.reshape(-1), bnd_phis.repeat(A), sh_degree,
                                  use_inverse, True)

    # Inner rays inside the mask; θ' = θ_i in value, w·θmax(φ_i) in gradient (spec §4.2 step 5).
    theta_hat = ops.mask_thetas(mask_params, buffers["direction_basis"])  # [A, N]
    ai, ii, counts = ops.in_mask(bnd_thetas.detach(), theta_hat.detach(), dir_thetas)
    flat = ai * N + ii
    w = dir_thetas.index_select(0, ii) / theta_hat.detach().reshape(-1).index_select(0, flat)
    slide = w * ops.gather_unique(theta_hat.reshape(-1), flat)
    theta_inner = dir_thetas.index_select(0, ii) + (slide - slide.detach())
    inner = ops.world_points(sh_params, R, positions, ai, theta_inner, dir_phis.index_select(0, ii), sh_degree, use_inverse,
                             True)
    if subsample:  # farthest-point sampling keeps ⌈fps_scale·n_a⌉ of each anchor's n_a rays
        offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
        keep = torch.ceil(counts.to(torch.float64) * fps_scale - 1e-9).to(torch.int64)
        sel = ops.fps_packed(inner.detach(), offsets, keep)
        inner, ai, ii = ops.gather_unique(inner, sel), ai.index_select(0, sel), ii.index_select(0, sel)
    return {"boundary_points": bnd_points, "boundary_anchor_idx": bnd_idx, "inner_points": inner, "inner_anchor_idx": ai,
            "inner_direction_idx": ii, "inner_counts": counts}
