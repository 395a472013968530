# SPDX-License-Identifier: MIT
"""The torch operators: schema, autograd and fake-kernel registration (opcheck), float64
gradients (gradcheck), values against plain references, and torch.compile tracing."""
import math

import pytest
import torch

import mash  # noqa: F401  (loads the libraries that register torch.ops.mash)


def rodrigues(r):
    th = r.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    k = r / th
    K = torch.zeros(r.shape[0], 3, 3, dtype=r.dtype)
    K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -k[:, 2], k[:, 1], -k[:, 0]
    K = K - K.transpose(1, 2)
    s, c = th.sin()[..., None], th.cos()[..., None]
    return torch.eye(3, dtype=r.dtype) + s * K + (1 - c) * (K @ K)


def wp_args(A=3, L=2, P=24, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    sh = (torch.rand(A, (L + 1) ** 2, generator=g, dtype=dtype) * 0.2 + 0.05)
    sh[:, 0] += 1.0
    R = rodrigues(torch.randn(A, 3, generator=g, dtype=dtype))
    pos = torch.randn(A, 3, generator=g, dtype=dtype)
    aidx = torch.randint(0, A, (P,), generator=g)
    theta = torch.rand(P, generator=g, dtype=dtype) * 1.2 + 0.1
    phi = torch.rand(P, generator=g, dtype=dtype) * 2 * math.pi
    return sh, R, pos, aidx, theta, phi, L


def world_points_reference(sh, R, pos, aidx, theta, phi, L, use_inverse):
    """The spec's steps in plain torch for L <= 1 (hand-written basis), no inversion."""
    assert not use_inverse and L == 1
    w0, w1 = 0.5 * math.sqrt(1 / math.pi), 0.5 * math.sqrt(1.5 / math.pi)
    ct, st, cp, sp = theta.cos(), theta.sin(), phi.cos(), phi.sin()
    c = sh[aidx]
    Y = torch.stack([torch.full_like(ct, w0), w1 * sp * st, w1 * ct, w1 * cp * st], -1)
    r = torch.relu((c * Y).sum(-1))
    q = r[:, None] * torch.stack([st * cp, st * sp, ct], -1)
    return pos[aidx] + (R[aidx] @ q[..., None])[..., 0]


def test_world_points_opcheck():
    sh, R, pos, aidx, theta, phi, L = wp_args()
    for t in (sh, R, pos, theta):
        t.requires_grad_(True)
    torch.library.opcheck(torch.ops.mash.world_points.default, (sh, R, pos, aidx, theta, phi, L, True, True))


def test_world_points_gradcheck():
    sh, R, pos, aidx, theta, phi, L = wp_args(P=16)
    for inv in (True, False):
        f = lambda s, r, p, t: torch.ops.mash.world_points(s, r, p, aidx, t, phi, L, inv, True)
        inputs = tuple(x.clone().requires_grad_(True) for x in (sh, R, pos, theta))
        assert torch.autograd.gradcheck(f, inputs, eps=1e-6, atol=1e-7)


def test_world_points_equals_plain_torch():
    sh, R, pos, aidx, theta, phi, _ = wp_args(L=1, P=50, seed=3)
    ours = torch.ops.mash.world_points(sh, R, pos, aidx, theta, phi, 1, False, True)
    ref = world_points_reference(sh, R, pos, aidx, theta, phi, 1, False)
    assert ours.shape == (50, 3)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)


def test_fps_and_nearest():
    g = torch.Generator().manual_seed(5)
    pts = torch.rand(200, 3, generator=g, dtype=torch.float64)
    idx = torch.ops.mash.fps(pts, 20)
    # reference: greedy farthest point from point 0
    ref, d = [0], (pts - pts[0]).pow(2).sum(-1)
    for _ in range(19):
        j = int(d.argmax())
        ref.append(j)
        d = torch.minimum(d, (pts - pts[j]).pow(2).sum(-1))
    assert idx.dtype == torch.int64 and idx.tolist() == ref
    q = torch.rand(77, 3, generator=g, dtype=torch.float64)
    nn = torch.ops.mash.nearest(q, pts)
    assert torch.equal(nn, torch.cdist(q, pts).argmin(1))
    torch.library.opcheck(torch.ops.mash.fps.default, (pts, 20))
    torch.library.opcheck(torch.ops.mash.nearest.default, (q, pts))


def test_compile_traces_the_ops():
    sh, R, pos, aidx, theta, phi, L = wp_args(P=32)
    target = torch.randn(32, 3, dtype=torch.float64)

    def loss(s, r, p):
        x = torch.ops.mash.world_points(s, r, p, aidx, theta, phi, L, True, True)
        return (x - target).pow(2).sum()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)  # fullgraph: any graph break is an error
    a = tuple(x.clone().requires_grad_(True) for x in (sh, R, pos))
    b = tuple(x.clone().requires_grad_(True) for x in (sh, R, pos))
    la, lb = loss(*a), compiled(*b)
    la.backward()
    lb.backward()
    torch.testing.assert_close(la, lb)
    for x, y in zip(a, b):
        torch.testing.assert_close(x.grad, y.grad)


def perturbed_mash(anchors=6, seed=0):
    m = mash.Mash(anchors=anchors, num_directions=400, num_boundary=30)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.positions.copy_(torch.randn(anchors, 3, generator=g, dtype=torch.float64) * 0.3)
        m.rotate_vectors.copy_(torch.randn(anchors, 3, generator=g, dtype=torch.float64))
        m.mask_params.add_(torch.randn(m.mask_params.shape, generator=g, dtype=torch.float64) * 0.5)
        m.sh_params.add_(torch.rand(m.sh_params.shape, generator=g, dtype=torch.float64) * 0.2)
    return m


def test_in_mask_and_fps_packed():
    m = perturbed_mash()
    bt = torch.ops.mash.mask_thetas(m.mask_params.detach(), m.boundary_basis)
    th = torch.ops.mash.mask_thetas(m.mask_params.detach(), m.direction_basis)
    ai, ii, counts = torch.ops.mash.in_mask(bt, th, m.direction_thetas)
    ti = m.direction_thetas[None]
    keep = (ti <= bt.amax(1, keepdim=True)) & (ti <= th)  # the definition, spec §4.2
    assert torch.equal(torch.stack([ai, ii], 1), keep.nonzero()) and torch.equal(counts, keep.sum(1))
    pts = torch.rand(int(counts.sum()), 3, dtype=torch.float64)
    offsets = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    keep_n = (counts + 1) // 2
    sel = torch.ops.mash.fps_packed(pts, offsets, keep_n)
    parts = []
    for a in range(counts.numel()):  # each segment is fps of its own points
        lo, n, k = int(offsets[a]), int(counts[a]), int(keep_n[a])
        parts.append(torch.ops.mash.fps(pts[lo:lo + n], k) + lo if n else torch.zeros(0, dtype=torch.int64))
    assert torch.equal(sel, torch.cat(parts))
    torch.library.opcheck(torch.ops.mash.in_mask.default, (bt, th, m.direction_thetas))
    torch.library.opcheck(torch.ops.mash.fps_packed.default, (pts, offsets, keep_n))
    torch.library.opcheck(torch.ops.mash.axis_angle_to_matrix.default, (m.rotate_vectors.detach().clone().requires_grad_(),))
    torch.library.opcheck(torch.ops.mash.mask_thetas.default, (m.mask_params.detach().clone().requires_grad_(), m.boundary_basis))
    x = torch.rand(10, 3, dtype=torch.float64, requires_grad=True)
    torch.library.opcheck(torch.ops.mash.gather_unique.default, (x, torch.tensor([4, 0, 7])))


def test_differentiable_sampling_ops_gradcheck():
    g = torch.Generator().manual_seed(7)
    r = torch.randn(5, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    r0 = torch.zeros(2, 3, dtype=torch.float64).requires_grad_(True)  # the Taylor branch at the identity
    assert torch.autograd.gradcheck(torch.ops.mash.axis_angle_to_matrix, (r,))
    assert torch.autograd.gradcheck(torch.ops.mash.axis_angle_to_matrix, (r0,))
    m = mash.Mash(anchors=3, num_boundary=12)
    params = torch.randn(3, 7, generator=g, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda p: torch.ops.mash.mask_thetas(p, m.boundary_basis), (params,))
    x = torch.randn(9, 3, generator=g, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: torch.ops.mash.gather_unique(t, torch.tensor([8, 0, 3, 5])), (x,))


def test_python_sampling_pass_is_the_cpp_module():
    m = perturbed_mash(seed=2)
    ref = mash._C.Sampler(m.anchors, m.mask_degree, m.sh_degree, m.num_directions, m.num_boundary, m.fps_scale, True,
                          torch.float64, "cpu")
    for subsample in (True, False):
        ours = m.sample(subsample=subsample, return_all=True)
        params = [p.detach().clone().requires_grad_(True) for p in m.parameters()]
        theirs = ref.sample(*params, subsample)
        for key in ("boundary_points", "inner_points", "boundary_anchor_idx", "inner_anchor_idx"):
            assert torch.equal(ours[key], theirs[key]), key
        if subsample:  # collapsed anchors (relu'd distances): FPS repeats points; the same gradients even so
            inner = ours["inner_points"]
            assert torch.unique(inner, dim=0).shape[0] < inner.shape[0]
        m.zero_grad()
        w = torch.linspace(-1, 1, ours["points"].numel(), dtype=torch.float64).view(-1, 3)
        (ours["points"] * w).sum().backward()
        (theirs["points"] * w).sum().backward()
        for (n, p), q in zip(m.named_parameters(), params):
            assert torch.equal(p.grad, q.grad), n


def test_compile_mash_sample_without_graph_break():
    target = torch.rand(500, 3, dtype=torch.float64) - 0.5

    def loss(m):
        d_fit, d_cov, _, _ = torch.ops.mash.chamfer(m.sample(), target)
        return d_fit.mean() + d_cov.mean()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)  # fullgraph: any graph break is an error
    a, b = perturbed_mash(seed=4), perturbed_mash(seed=4)
    la, lb = loss(a), compiled(b)
    la.backward()
    lb.backward()
    assert torch.equal(la, lb)
    for (n, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        torch.testing.assert_close(x.grad, y.grad, rtol=1e-12, atol=1e-14, msg=n)


def test_errors_are_python_exceptions():
    sh, R, pos, aidx, theta, phi, L = wp_args()
    with pytest.raises(RuntimeError, match="sh must be"):
        torch.ops.mash.world_points(sh[:, :4], R, pos, aidx, theta, phi, L, True, True)
    with pytest.raises(RuntimeError, match="anchor_idx, theta, phi must be"):
        torch.ops.mash.world_points(sh, R, pos, aidx[:5], theta, phi, L, True, True)
    with pytest.raises(RuntimeError, match="queries must be"):
        torch.ops.mash.nearest(torch.zeros(4, 2, dtype=torch.float64), pos)


def cloud(n, seed, dtype=torch.float64):
    return torch.rand(n, 3, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def test_chamfer_equals_brute_force_and_gradchecks():
    s, g = cloud(60, 1), cloud(45, 2)
    d2_fit, d2_cov, i_fit, i_cov = torch.ops.mash.chamfer(s, g)
    D = torch.cdist(s, g).pow(2)
    torch.testing.assert_close(d2_fit, D.min(1).values)
    torch.testing.assert_close(d2_cov, D.min(0).values)
    assert torch.equal(i_fit, D.argmin(1)) and torch.equal(i_cov, D.argmin(0))
    f = lambda x: tuple(torch.ops.mash.chamfer(x, g)[:2])
    assert torch.autograd.gradcheck(f, (s.clone().requires_grad_(True),), eps=1e-7, atol=1e-6)
    torch.library.opcheck(torch.ops.mash.chamfer.default, (s.clone().requires_grad_(True), g))


def test_surfel_distance_hand_derived_and_gradchecks():
    g = torch.tensor([[0.0, 0, 0]], dtype=torch.float64)
    n = torch.tensor([[0.0, 0, 1]], dtype=torch.float64)
    r = torch.tensor([0.5], dtype=torch.float64)
    s = torch.tensor([[0.3, 0, 0.2], [1.0, 0, -0.1]], dtype=torch.float64)
    idx = torch.zeros(2, dtype=torch.int64)
    d2 = torch.ops.mash.surfel_dist2(s, g, idx, n, r)
    # inside the disc: only the normal offset 0.2; outside: 0.1 along n and 1.0 - 0.5 beyond the rim
    torch.testing.assert_close(d2, torch.tensor([0.04, 0.01 + 0.25], dtype=torch.float64), rtol=1e-9, atol=1e-9)
    gs, gg = cloud(30, 3), cloud(10, 4)
    nn = torch.nn.functional.normalize(cloud(10, 5) - 0.5, dim=1)
    radii = torch.full((10,), 0.05, dtype=torch.float64)
    i = torch.ops.mash.nearest(gs, gg)
    f = lambda x: torch.ops.mash.surfel_dist2(x, gg, i, nn, radii)
    assert torch.autograd.gradcheck(f, (gs.clone().requires_grad_(True),), eps=1e-7, atol=1e-6)
    torch.library.opcheck(torch.ops.mash.surfel_dist2.default, (gs.clone().requires_grad_(True), gg, i, nn, radii))


def test_boundary_continuity_and_nearest_other_group():
    pts = cloud(40, 6)
    group = torch.arange(40) % 4
    nn = torch.ops.mash.nearest_other_group(pts, group)
    D = torch.cdist(pts, pts)
    D[group[:, None] == group[None, :]] = float("inf")
    assert torch.equal(nn, D.argmin(1))
    loss = torch.ops.mash.boundary_continuity(pts, group, 1e-6)
    torch.testing.assert_close(loss, torch.sqrt(D.min(1).values.pow(2) + 1e-6).mean())
    f = lambda x: torch.ops.mash.boundary_continuity(x, group, 1e-6)
    assert torch.autograd.gradcheck(f, (pts.clone().requires_grad_(True),), eps=1e-7, atol=1e-6)
    torch.library.opcheck(torch.ops.mash.boundary_continuity.default, (pts.clone().requires_grad_(True), group, 1e-6))
    torch.library.opcheck(torch.ops.mash.nearest_other_group.default, (pts, group))
    one = torch.ops.mash.boundary_continuity(pts, torch.zeros(40, dtype=torch.int64), 1e-6)
    assert one.item() == 0.0  # a single anchor: no other group, no loss


def test_compile_traces_a_chamfer_loss():
    g = cloud(50, 7)

    def loss(x):
        d2_fit, d2_cov, _, _ = torch.ops.mash.chamfer(x, g)
        return torch.sqrt(d2_fit + 1e-6).mean() + torch.sqrt(d2_cov + 1e-6).mean()

    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    a, b = cloud(70, 8).requires_grad_(True), cloud(70, 8).requires_grad_(True)
    la, lb = loss(a), compiled(b)
    la.backward()
    lb.backward()
    torch.testing.assert_close(la, lb)
    torch.testing.assert_close(a.grad, b.grad)
