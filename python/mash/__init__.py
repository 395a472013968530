# SPDX-License-Identifier: MIT
"""mash: MASH (Masked Anchored SpHerical Distances) shapes in PyTorch.

The differentiable core is a set of torch operators (``torch.ops.mash.world_points``,
``torch.ops.mash.fps``, ``torch.ops.mash.nearest``) implemented by the same C++ libraries as the
``mash`` command-line program, with autograd and fake (meta) kernels for ``torch.compile``.

    m = mash.Mash(anchors=400)            # a torch.nn.Module; its parameters take gradients
    points = m.sample()                   # [P, 3] world points, differentiable
    m = mash.fit("bunny.obj", max_steps=500)
    m.save("bunny.npz")
"""
from __future__ import annotations

import os
from typing import Sequence, Union

import numpy as np
import torch

from . import _C  # registers nothing itself: loading it loads the libraries that register torch.ops.mash
from . import _ops
from ._C import MashConfigError, MashError, MashInputError, MashIoError

__all__ = ["Mash", "fit", "fit_batch", "load", "mesh", "metrics", "render", "save_png", "Generator", "MashError", "MashIoError", "MashInputError",
           "MashConfigError", "set_threads"]
try:  # the version is project(... VERSION) in CMakeLists.txt, through the package metadata
    from importlib.metadata import version as _version

    __version__ = _version("mash")
except Exception:  # not installed (e.g. a source tree on sys.path)
    __version__ = "unknown"

PathLike = Union[str, os.PathLike]


def set_threads(threads: int = 0) -> None:
    """Intra-op CPU threads of the C++ core (0 = all cores)."""
    _C.init_runtime(int(threads))


def _as_tensor(x, dtype=torch.float64) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().to(dtype)
    return torch.as_tensor(np.asarray(x), dtype=dtype)


class Mash(torch.nn.Module):
    """A MASH as a ``torch.nn.Module``.

    Parameters (``nn.Parameter``, float64 unless ``dtype`` says otherwise), for A anchors:
      * ``rotate_vectors`` [A, 3]: axis-angle of each anchor's local-to-world rotation;
      * ``positions`` [A, 3]: anchor positions;
      * ``mask_params`` [A, 2K+1]: the mask's Fourier series (θmax(φ) = π·sigmoid(series));
      * ``sh_params`` [A, (L+1)²]: spherical-harmonic distances.
    A new MASH is the paper's "flat disk" initialization (identity rotations, zero positions,
    c0 = 1e-3/W0), as the CLI starts from. Sampling settings (directions, boundary samples, FPS
    fraction, anchored inversion) are the paper's defaults unless given.
    """

    def __init__(self, anchors: int = 400, mask_degree: int = 3, sh_degree: int = 2, *, num_directions: int = 1000,
                 num_boundary: int = 90, fps_scale: float = 0.8, use_inverse: bool = True, dtype=torch.float64, device="cpu"):
        super().__init__()
        self.anchors, self.mask_degree, self.sh_degree = int(anchors), int(mask_degree), int(sh_degree)
        self.num_directions, self.num_boundary, self.fps_scale = int(num_directions), int(num_boundary), float(fps_scale)
        self.use_inverse = bool(use_inverse)
        init = _C.initial_params(self.anchors, self.mask_degree, self.sh_degree)  # the C++ module's own start
        for name in ("rotate_vectors", "positions", "mask_params", "sh_params"):
            setattr(self, name, torch.nn.Parameter(init[name].to(dtype=dtype, device=device)))
        self._set_buffers()

    def _set_buffers(self):
        """The fixed directions and boundary azimuths (not in the state dict), as the C++ module
        computes them for the parameters' dtype and device."""
        p = self.positions
        for name, b in _C.sampling_buffers(self.mask_degree, self.num_directions, self.num_boundary, p.dtype,
                                           str(p.device)).items():
            self.register_buffer(name, b, persistent=False)

    def _apply(self, fn, *args, **kwargs):  # .to() / .double() / .cuda(): the buffers follow, recomputed
        super()._apply(fn, *args, **kwargs)
        self._set_buffers()
        return self

    def sample(self, subsample: bool = True, return_all: bool = False):
        """One sampling pass: the MASH's surface points ``[P, 3]`` (boundary samples, then the inner
        samples kept by farthest-point sampling), differentiable in every parameter; torch operators
        throughout, so ``torch.compile`` traces it whole (P is a data-dependent size). With
        ``return_all`` a dict: ``points``, ``anchor_idx`` [P], ``boundary_points``, ``inner_points``,
        ``boundary_anchor_idx``, ``inner_anchor_idx``, ``inner_direction_idx``, ``inner_counts`` [A]
        (in-mask rays per anchor before FPS). ``subsample=False`` keeps every in-mask ray."""
        out = _ops.sample_pass(self.rotate_vectors, self.positions, self.mask_params, self.sh_params, dict(self.named_buffers()),
                               self.sh_degree, self.use_inverse, self.fps_scale, bool(subsample))
        if not return_all:
            return torch.cat([out["boundary_points"], out["inner_points"]])
        out["points"] = torch.cat([out["boundary_points"], out["inner_points"]])
        out["anchor_idx"] = torch.cat([out["boundary_anchor_idx"], out["inner_anchor_idx"]])
        return out

    forward = sample

    @classmethod
    def load(cls, path: PathLike, dtype=torch.float64, device="cpu", **sampling) -> "Mash":
        """Reads a MASH file: ours (``.npz``) or the original implementation's (``.npy``)."""
        d = _C.load_mash(os.fspath(path))
        m = cls(d["positions"].shape[0], d["mask_degree"], d["sh_degree"], use_inverse=d["use_inverse"], dtype=dtype, device=device,
                **sampling)
        m.set_params(d)
        return m

    def set_params(self, params: dict) -> "Mash":
        """Copies ``rotate_vectors``, ``positions``, ``mask_params``, ``sh_params`` (numpy arrays or
        tensors of the right shapes) into the parameters."""
        with torch.no_grad():
            for name in ("rotate_vectors", "positions", "mask_params", "sh_params"):
                p = getattr(self, name)
                v = _as_tensor(params[name], p.dtype)
                if tuple(v.shape) != tuple(p.shape):
                    raise MashInputError(f"{name}: shape {tuple(v.shape)} (expected {tuple(p.shape)})")
                p.copy_(v.to(p.device))
        return self

    def save(self, path: PathLike) -> None:
        """Writes the MASH as ``.npz`` (ours) or ``.npy`` (the original's layout), atomically."""
        _C.save_mash(os.fspath(path), self.rotate_vectors.detach(), self.positions.detach(), self.mask_params.detach(),
                     self.sh_params.detach(), self.mask_degree, self.sh_degree, self.use_inverse)

    def extra_repr(self) -> str:
        return f"anchors={self.anchors}, mask_degree={self.mask_degree}, sh_degree={self.sh_degree}"


def load(path: PathLike, **kwargs) -> Mash:
    """``Mash.load(path)``."""
    return Mash.load(path, **kwargs)


def fit(source: Union[PathLike, np.ndarray, torch.Tensor], *, config: PathLike | None = None, seed: int = 0,
        device: str = "cpu", threads: int | None = None, **options) -> Mash:
    """Fits a MASH to a mesh or point-cloud file (any format ``mash fit`` reads) or to points
    ``[N, 3]`` (numpy or torch), exactly as ``mash fit`` does: the same defaults, the same
    ``config`` YAML files, and every option of ``mash fit --set KEY=VALUE`` as a keyword
    (``num_anchors=100``, ``max_steps=500``, ``surfel_radius=1.5``, ...). Returns the fitted
    ``Mash`` in the input's coordinates; ``m.fit_report`` holds steps, seconds and the final
    L1-CD / L2-CD / F-score (normalized frame)."""
    if threads is not None:
        set_threads(threads)
    tmp = None
    if isinstance(source, (np.ndarray, torch.Tensor)):
        pts = _as_tensor(source).cpu().numpy()
        if pts.ndim != 2 or pts.shape[1] != 3:
            raise MashInputError(f"points: shape {pts.shape} (expected [N, 3])")
        import tempfile
        fd, tmp = tempfile.mkstemp(suffix=".xyz")
        with os.fdopen(fd, "w") as f:
            np.savetxt(f, pts, fmt="%.17g")
        path = tmp
    else:
        path = os.fspath(source)
    try:
        overrides = [f"{k}={str(v).lower() if isinstance(v, bool) else v}" for k, v in options.items()]
        d = _C.fit_file(path, os.fspath(config) if config else "", overrides, int(seed), device)
    finally:
        if tmp:
            os.unlink(tmp)
    m = Mash(d["positions"].shape[0], d["mask_degree"], d["sh_degree"], use_inverse=d["use_inverse"])
    m.set_params(d)
    m.fit_report = d["report"]
    return m


def fit_batch(sources, *, workers: int = 1, **kwargs) -> list:
    """``fit`` of several shapes (files or arrays), ``workers`` at a time in threads (the C++ fit
    releases the GIL); each result equals ``fit`` of that shape alone with the same options and
    seed. Returns the ``Mash`` objects in the order of ``sources``."""
    sources = list(sources)
    if workers <= 1:
        return [fit(s, **kwargs) for s in sources]
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(max_workers=int(workers)) as pool:
        return list(pool.map(lambda s: fit(s, **kwargs), sources))


def save_png(path: PathLike, image) -> None:
    """Writes an ``[H, W, 3]`` uint8 image (numpy or torch, e.g. from ``render``) as PNG, atomically."""
    _C.write_png(os.fspath(path), torch.as_tensor(np.asarray(image)))


def mesh(m: Mash, depth: int = 8):
    """``mash mesh``'s route with its defaults: oriented samples of the MASH, screened Poisson at
    ``depth``. Returns ``(vertices [V, 3] float64, faces [F, 3] int64)`` tensors of a closed mesh."""
    return _C.mesh(m.rotate_vectors.detach(), m.positions.detach(), m.mask_params.detach(), m.sh_params.detach(),
                   m.mask_degree, m.sh_degree, m.use_inverse, int(depth))


def metrics(a, b, tau: float = 0.01) -> dict:
    """Point-set distances between ``a`` [N, 3] and ``b`` [M, 3] (numpy or torch; a ``Mash`` is sampled),
    with exact nearest neighbours (``torch.ops.mash.nearest``): ``l1_cd`` = ½(mean‖a→b‖ + mean‖b→a‖),
    ``l2_cd`` the same with squared distances, ``precision`` / ``recall`` / ``fscore`` at ``tau``."""
    def points(x):
        if isinstance(x, Mash):
            return x.sample().detach()
        return _as_tensor(x)
    pa, pb = points(a), points(b).to(points(a).device)
    dab = (pa - pb[torch.ops.mash.nearest(pa, pb)]).norm(dim=1)
    dba = (pb - pa[torch.ops.mash.nearest(pb, pa)]).norm(dim=1)
    prec, rec = (dab <= tau).double().mean().item(), (dba <= tau).double().mean().item()
    return {"l1_cd": 0.5 * (dab.mean() + dba.mean()).item(), "l2_cd": 0.5 * (dab.pow(2).mean() + dba.pow(2).mean()).item(),
            "precision": prec, "recall": rec, "fscore": 2 * prec * rec / (prec + rec) if prec + rec > 0 else 0.0}


def render(*shapes, width: int = 480, height: int = 480, views: int = 4, elevation: float = 20.0, azimuth: float = 30.0) -> np.ndarray:
    """Pictures as ``mash render`` draws them (CPU rasterizer, no display): each argument is a
    ``Mash`` (its samples, coloured by anchor, patch boundaries dark), a mesh ``(vertices, faces)``
    or points ``[N, 3]``; all are drawn into one scene from ``views`` directions around it.
    Returns a numpy uint8 image ``[height, width * views, 3]``."""
    V, F, P, C = [], [], [], []
    nv = 0
    for x in shapes:
        if isinstance(x, Mash):
            with torch.no_grad():
                s = x.sample(return_all=True)
            pts = s["points"].double().cpu()
            col = _C.id_colors(s["anchor_idx"])
            col[: s["boundary_points"].shape[0]] = 40
            P.append(pts)
            C.append(col)
        elif isinstance(x, (tuple, list)) and len(x) == 2:
            v, f = _as_tensor(x[0]).cpu(), torch.as_tensor(np.asarray(x[1]) if not isinstance(x[1], torch.Tensor) else x[1]).long()
            V.append(v)
            F.append(f.cpu() + nv)
            nv += v.shape[0]
        else:
            pts = _as_tensor(x).cpu()
            if pts.dim() != 2 or pts.shape[1] != 3:
                raise MashInputError(f"render: points of shape {tuple(pts.shape)} (expected [N, 3])")
            P.append(pts)
            C.append(torch.full((pts.shape[0], 3), 90, dtype=torch.uint8))
    cat = lambda xs, shape, dtype: torch.cat(xs) if xs else torch.zeros(shape, dtype=dtype)
    img = _C.render(cat(V, (0, 3), torch.float64), cat(F, (0, 3), torch.int64), cat(P, (0, 3), torch.float64),
                    cat(C, (0, 3), torch.uint8), int(width), int(height), int(views), float(elevation), float(azimuth))
    return img.numpy()


class Generator:
    """A trained generator (``mash train``'s ``checkpoint.pt`` / ``model.pt``, the bundled
    ``models/pretrained/families.pt``, or a released model converted by ``mash import-original``).

        g = mash.Generator.load("models/pretrained/families.pt")
        shapes = g.generate(category="chair", num=3, seed=0)   # list of Mash
    """

    def __init__(self, impl):
        self._g = impl

    @classmethod
    def load(cls, checkpoint: PathLike) -> "Generator":
        return cls(_C.Generator(os.fspath(checkpoint)))

    @property
    def categories(self):
        return list(self._g.categories)

    @property
    def condition(self) -> str:
        """``category``, ``image`` or ``none``."""
        return self._g.condition

    @property
    def num_anchors(self) -> int:
        """Anchors per generated shape."""
        return self._g.num_anchors

    def generate(self, category: str | None = None, num: int | None = None, seed: int = 0, *, solver: str = "", steps: int = 0,
                 image: PathLike | None = None, encoder: PathLike | None = None, complete=None, keep="all", blend=None,
                 noise=None, raw: bool = False) -> list:
        """``num`` shapes, as ``mash generate`` makes them (same seed, same bits). Returns a list of ``Mash``.

        * ``category``: the class name for category models; ``image`` + ``encoder`` (a photo and the
          TorchScript image encoder) for image models; nothing for unconditional ones.
        * ``complete``: a ``Mash`` or MASH file whose anchors selected by ``keep`` stay fixed while
          the rest are generated (``"all"``, ``"0-99,120"``, ``"box=x0,y0,z0,x1,y1,z1"`` in the
          shape's own coordinates, or a list of indices); the result is in that shape's coordinates.
        * ``blend``: several such parts, ``[m1, (m2, "0-49"), "part.npz", ...]``, frozen together.
        * ``noise``: the starting noise [num, anchors, width] in normalized token space (default:
          drawn from ``seed``; ``num`` defaults to its count, else 1); ``solver``/``steps`` default to the checkpoint's sampler; ``raw`` uses
          the raw (non-EMA) weights."""
        if complete is not None and blend:
            raise MashConfigError("generate: use either complete= or blend=, not both")
        parts = []
        for item in ([(complete, keep)] if complete is not None else []) + [b if isinstance(b, tuple) else (b, "all")
                                                                            for b in (blend or [])]:
            src, sel = item
            name = os.fspath(src) if isinstance(src, (str, os.PathLike)) else "mash"
            m = load(src) if isinstance(src, (str, os.PathLike)) else src
            if not isinstance(sel, str):
                sel = ",".join(str(int(i)) for i in sel)
            parts.append((m.rotate_vectors.detach(), m.positions.detach(), m.mask_params.detach(), m.sh_params.detach(),
                          m.mask_degree, m.sh_degree, m.use_inverse, sel, name))
        noise_t = None if noise is None else _as_tensor(noise, torch.float32)
        if noise_t is not None and noise_t.dim() == 2:
            noise_t = noise_t[None]
        num = int(num) if num is not None else (noise_t.shape[0] if noise_t is not None else 1)
        out = []
        for d in self._g.generate(category or "", num, int(seed), solver, int(steps), os.fspath(image) if image else "",
                                  os.fspath(encoder) if encoder else "", parts, noise_t, bool(raw)):
            m = Mash(d["positions"].shape[0], d["mask_degree"], d["sh_degree"], use_inverse=d["use_inverse"])
            out.append(m.set_params(d))
        return out
