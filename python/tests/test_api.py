# SPDX-License-Identifier: MIT
"""The Pythonic API: Mash as an nn.Module (sampling, gradients, files) and fit, against the CLI."""
import pathlib
import subprocess

import numpy as np
import pytest
import torch

import mash


def test_new_mash_samples_and_takes_gradients():
    m = mash.Mash(anchors=8)
    assert [n for n, _ in m.named_parameters()] == ["rotate_vectors", "positions", "mask_params", "sh_params"]
    pts = m.sample()
    assert pts.dim() == 2 and pts.shape[1] == 3 and pts.dtype == torch.float64
    pts.pow(2).sum().backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), n
    assert m.positions.grad.abs().sum() > 0 and m.sh_params.grad.abs().sum() > 0


def test_dtype_and_device_moves_recompute_the_buffers():
    m = mash.Mash(anchors=4, num_directions=300)
    m32 = mash.Mash(anchors=4, num_directions=300, dtype=torch.float32)
    m.float()
    for (n, a), (_, b) in zip(m.named_buffers(), m32.named_buffers()):
        assert a.dtype == torch.float32 and torch.equal(a, b), n
    assert m.sample().dtype == torch.float32
    assert [n for n in m.state_dict()] == ["rotate_vectors", "positions", "mask_params", "sh_params"]


def test_original_file_loads_and_samples_as_the_cli(data):
    m = mash.load(data / "mash_official" / "bunny_a400_legacy.npy")
    assert (m.anchors, m.mask_degree, m.sh_degree) == (400, 3, 2)
    assert m.sample().shape[0] == 196182  # what `mash info` reports for this file


def test_save_load_round_trip(tmp_path):
    m = mash.Mash(anchors=5, mask_degree=2, sh_degree=1)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    m.save(tmp_path / "m.npz")
    back = mash.load(tmp_path / "m.npz")
    for (n, a), (_, b) in zip(m.named_parameters(), back.named_parameters()):
        assert torch.equal(a, b), n
    with pytest.raises(mash.MashInputError):
        back.set_params({"rotate_vectors": np.zeros((4, 3)), "positions": 0, "mask_params": 0, "sh_params": 0})
    with pytest.raises(mash.MashIoError, match="nothing.npz"):
        mash.load(tmp_path / "nothing.npz")


def test_fit_equals_the_cli_bit_for_bit(data, mash_bin, tmp_path):
    src = data / "npm-bunny.obj"
    out = tmp_path / "cli.npz"
    subprocess.run([str(mash_bin), "fit", str(src), "-o", str(out), "--anchors", "40", "--set", "max_steps=15", "--seed", "3",
                    "--threads", "1", "--log-level", "warn"], check=True)
    m = mash.fit(src, num_anchors=40, max_steps=15, seed=3, threads=1)
    cli = mash.load(out)
    for (n, a), (_, b) in zip(m.named_parameters(), cli.named_parameters()):
        assert torch.equal(a, b), n
    assert m.fit_report["steps"] == 15


def test_fit_points_array():
    g = torch.Generator().manual_seed(1)
    v = torch.randn(3000, 3, generator=g, dtype=torch.float64)
    sphere = v / v.norm(dim=1, keepdim=True)
    m = mash.fit(sphere.numpy(), num_anchors=30, max_steps=40, threads=2)
    assert m.anchors == 30 and m.fit_report["l1_cd"] > 0
    with pytest.raises(mash.MashInputError):
        mash.fit(np.zeros((10, 2)))


def test_mesh_is_closed(data):
    m = mash.load(data / "mash_official" / "bunny_a400_params.npz")
    V, F = mash.mesh(m, depth=6)
    assert V.shape[1] == 3 and F.shape[1] == 3 and F.dtype == torch.int64 and F.shape[0] > 100
    # closed 2-manifold: every undirected edge is shared by exactly two triangles
    e = torch.cat([F[:, [0, 1]], F[:, [1, 2]], F[:, [2, 0]]]).sort(dim=1).values
    _, counts = torch.unique(e, dim=0, return_counts=True)
    assert bool((counts == 2).all())


def test_metrics_hand_derived():
    a = torch.tensor([[0.0, 0, 0], [1, 0, 0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0, 0.005], [1, 0, 0.5]], dtype=torch.float64)
    r = mash.metrics(a, b, tau=0.01)
    assert r["l1_cd"] == pytest.approx(0.5 * ((0.005 + 0.5) / 2 + (0.005 + 0.5) / 2))
    assert r["precision"] == 0.5 and r["recall"] == 0.5 and r["fscore"] == 0.5


def test_generator_equals_the_cli(mash_bin, tmp_path):
    ck = pathlib.Path(__file__).resolve().parents[2] / "models" / "pretrained" / "families.pt"
    g = mash.Generator.load(ck)
    assert "chair" in g.categories and g.condition == "category"
    shapes = g.generate(category="chair", num=2, seed=4)
    subprocess.run([str(mash_bin), "generate", "--checkpoint", str(ck), "--category", "chair", "--num", "2", "--seed", "4",
                    "--no-render", "-o", str(tmp_path), "--log-level", "warn"], check=True)
    for i, m in enumerate(shapes):
        cli = mash.load(tmp_path / f"chair_{i:03d}.npz")
        for (n, a), (_, b) in zip(m.named_parameters(), cli.named_parameters()):
            assert torch.equal(a, b), (i, n)
    with pytest.raises(mash.MashInputError, match="sofa"):
        g.generate(category="sofa")


def assert_same_mash(a, b, what):
    for (n, x), (_, y) in zip(a.named_parameters(), b.named_parameters()):
        assert torch.equal(x, y), (what, n)


def test_completion_and_blending_equal_the_cli(data, mash_bin, tmp_path):
    ck = pathlib.Path(__file__).resolve().parents[2] / "models" / "pretrained" / "families.pt"
    g = mash.Generator.load(ck)
    part_a, part_b = data / "mash_small" / "animal" / "cow.npz", data / "mash_small" / "object" / "fandisk.npz"
    run = lambda out, *args: subprocess.run([str(mash_bin), "generate", "--checkpoint", str(ck), "--category", "chair", "--num",
                                             "1", "--seed", "2", "--no-render", "-o", str(tmp_path / out), "--log-level", "warn",
                                             *args], check=True)
    run("complete", "--complete", str(part_a), "--keep-anchors", "0-19")
    ours = g.generate(category="chair", seed=2, complete=part_a, keep=range(20))[0]
    assert_same_mash(ours, mash.load(tmp_path / "complete" / "chair_000.npz"), "complete")
    given = mash.load(part_a)
    assert torch.equal(ours.positions[:20], given.positions[:20])  # the kept anchors are the input's, exactly
    run("blend", "--blend", f"{part_a}:0-9", "--blend", f"{part_b}:5-14")
    ours = g.generate(category="chair", seed=2, blend=[(given, "0-9"), (str(part_b), "5-14")])[0]
    assert_same_mash(ours, mash.load(tmp_path / "blend" / "chair_000.npz"), "blend")
    with pytest.raises(mash.MashInputError, match="frozen anchors"):
        g.generate(category="chair", complete=mash.Mash(anchors=g.num_anchors + 1))
    with pytest.raises(mash.MashConfigError, match="image-conditioned checkpoint"):
        g.generate(category="chair", image=data / "images" / "skimage_rocket.jpg", encoder="x.pt")


def test_imported_released_model_generates_as_the_cli(data, mash_bin, tmp_path):
    # A released-model checkpoint of the original code (a small one with its structure), imported.
    ck = tmp_path / "imported.pt"
    subprocess.run([str(mash_bin), "import-original", "--checkpoint",
                    str(data / "mash_diffusion_golden" / "category_small_checkpoint.pth"), "--heads", "4", "-o", str(ck),
                    "--log-level", "warn"], check=True)
    g = mash.Generator.load(ck)
    assert g.condition == "category" and g.num_anchors == 400
    category = g.categories[0]
    subprocess.run([str(mash_bin), "generate", "--checkpoint", str(ck), "--category", category, "--num", "1", "--seed", "5",
                    "--steps", "3", "--solver", "euler", "--no-render", "-o", str(tmp_path / "gen"), "--log-level", "warn"],
                   check=True)
    ours = g.generate(category=category, num=1, seed=5, steps=3, solver="euler")[0]
    assert_same_mash(ours, mash.load(tmp_path / "gen" / f"{category}_000.npz"), "imported")


def test_image_conditioning_equals_the_cli(data, mash_bin, tmp_path):
    root = pathlib.Path(__file__).resolve().parents[2]
    subprocess.run([str(mash_bin), "train", "--config", str(root / "configs" / "train" / "tiny_image.yaml"), "-o",
                    str(tmp_path / "model"), "--threads", "2", "--set", "train.steps=4", "--set", "sample.val_samples=0",
                    "--log-level", "warn"], check=True)
    ck, enc, photo = tmp_path / "model" / "checkpoint.pt", data / "standin_encoder.pt", data / "images" / "skimage_rocket.jpg"
    subprocess.run([str(mash_bin), "generate", "--checkpoint", str(ck), "--encoder", str(enc), "--image", str(photo), "--num",
                    "2", "--steps", "4", "--seed", "1", "--no-render", "-o", str(tmp_path / "gen"), "--log-level", "warn"],
                   check=True)
    g = mash.Generator.load(ck)
    assert g.condition == "image"
    ours = g.generate(image=photo, encoder=enc, num=2, steps=4, seed=1)
    for i, m in enumerate(ours):
        assert_same_mash(m, mash.load(tmp_path / "gen" / f"skimage_rocket_{i:03d}.npz"), i)
    with pytest.raises(mash.MashConfigError, match="pass image=PHOTO"):
        g.generate(num=1)


def test_render_draws_each_kind(data):
    m = mash.load(data / "mash_official" / "bunny_a400_params.npz")
    img = mash.render(m, width=64, height=48, views=2)
    assert img.shape == (48, 128, 3) and img.dtype == np.uint8
    assert (img < 250).any(axis=2).mean() > 0.05  # the bunny covers part of each picture
    V = torch.tensor([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)
    F = torch.tensor([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    mesh_img = mash.render((V, F), width=32, height=32, views=1)
    assert (mesh_img < 250).any(axis=2).mean() > 0.05
    dots = mash.render(np.random.default_rng(0).random((200, 3)), width=32, height=32, views=1)
    assert dots.shape == (32, 32, 3) and (dots < 250).any(axis=2).any()
    with pytest.raises(mash.MashInputError):
        mash.render((V, F + 10), width=32, height=32)


def test_fit_batch_equals_single_fits(data):
    srcs = [data / "npm-bunny.obj", data / "meshes" / "cgal_cow.off"]
    batch = mash.fit_batch(srcs, workers=2, num_anchors=20, max_steps=8, seed=1, threads=1)
    for src, m in zip(srcs, batch):
        one = mash.fit(src, num_anchors=20, max_steps=8, seed=1, threads=1)
        for (n, a), (_, b) in zip(m.named_parameters(), one.named_parameters()):
            assert torch.equal(a, b), (src, n)


def test_save_png(tmp_path):
    img = np.zeros((5, 7, 3), dtype=np.uint8)
    img[:, :, 1] = 200
    mash.save_png(tmp_path / "a.png", img)
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(mash.MashInputError):
        mash.save_png(tmp_path / "b.png", np.zeros((5, 7)))
