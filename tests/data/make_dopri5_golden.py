# SPDX-License-Identifier: MIT
# Makes dopri5_golden.npz: torchdiffeq 0.2.5's odeint(method='dopri5') on two analytic fields
# (smooth; stiff enough to reject steps), float32 and float64 states, two tolerances. The C++
# solver must reproduce every state bit for bit and make the same number of evaluations.
#   python make_dopri5_golden.py OUT.npz        (needs torch and torchdiffeq==0.2.5; scipy unused)
import sys
import types

import numpy as np
import torch

try:
    import scipy.integrate  # noqa: F401  (torchdiffeq imports it for its scipy wrapper only)
except ImportError:
    sci = types.ModuleType("scipy.integrate")
    sci.solve_ivp = None
    sys.modules["scipy"] = types.ModuleType("scipy")
    sys.modules["scipy"].integrate = sci
    sys.modules["scipy.integrate"] = sci
import torchdiffeq

assert torchdiffeq.__version__ == "0.2.5", torchdiffeq.__version__
torch.set_num_threads(1)
FIELDS = {
    "smooth": lambda t, x: torch.sin(x * 3) + t * torch.cos(x),
    "stiff": lambda t, x: (torch.cos(x * 2 + t * 9) - x) * 12,
}
g = torch.Generator().manual_seed(7)
query_t = torch.sqrt(torch.linspace(0, 1, 6)).to(torch.float32)
out = {"query_t": query_t.numpy()}
for dtype in (torch.float32, torch.float64):
    for name, field in FIELDS.items():
        x0 = torch.randn(3, 7, 5, generator=g).to(dtype)
        for tol in (1e-4, 1e-7):
            calls = [0]

            def f(t, x):
                calls[0] += 1
                return field(t, x)

            traj = torchdiffeq.odeint(f, x0, query_t, rtol=tol, atol=tol, method="dopri5")
            case = f"{name}_{'f32' if dtype == torch.float32 else 'f64'}_{'1e-4' if tol == 1e-4 else '1e-7'}"
            out[case + "_x0"] = x0.numpy()
            out[case + "_traj"] = traj.numpy()
            out[case + "_nfe"] = np.int64(calls[0])
np.savez(sys.argv[1], **out)
print("wrote", sys.argv[1], "with", (len(out) - 1) // 3, "cases")
