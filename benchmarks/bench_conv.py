"""Speed of the hw3_conv reference convolution, in one run, on one thread:

- the reference ``conv2d_forward`` / ``conv2d_backward`` (solutions/hw3_conv/conv.py),
- a naive loop over output pixels (vectorized over N, F and C inside: one matmul per pixel, the
  leanest form of the loop that the timing tests are meant to reject),
- ``torch.nn.functional.conv2d`` (and ``torch.nn.grad.conv2d_input`` / ``conv2d_weight``) with
  ``torch.set_num_threads(1)``, in float64 like the reference, when PyTorch imports.

    python benchmarks/bench_conv.py [--repeats 21] [--N 8 --C 16 --H 32 --W 32 --F 32 --K 3
                                     --stride 1 --padding 1]

Prints the median time of each and the ratios. Target: the reference forward within 3x of
PyTorch's. The layer defaults to the one the hidden timing tests use.
"""
from __future__ import annotations

import os

# One BLAS thread, set before NumPy (and PyTorch) load their libraries, as in the grader's workers.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TARGET_VS_TORCH = 3.0


def load_reference():
    path = REPO / "solutions" / "hw3_conv" / "conv.py"
    spec = importlib.util.spec_from_file_location("hw3_conv_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the naive loop over output pixels ------------------------------------------------------

def loop_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    w_mat = w.reshape(F, -1).T                                        # (C*KH*KW, F)
    out = np.empty((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            patch = x_pad[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
            out[:, :, i, j] = patch.reshape(N, -1) @ w_mat
    return out + b.reshape(1, F, 1, 1), (x, w, b, stride, padding)


def loop_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros_like(x_pad)
    dw_mat = np.zeros((F, C * KH * KW))
    w_mat = w.reshape(F, -1)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + KH)
            cols = slice(j * stride, j * stride + KW)
            g = d_out[:, :, i, j]                                     # (N, F)
            dw_mat += g.T @ x_pad[:, :, rows, cols].reshape(N, -1)
            dx_pad[:, :, rows, cols] += (g @ w_mat).reshape(N, C, KH, KW)
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx, dw_mat.reshape(w.shape), d_out.sum(axis=(0, 2, 3))


# --- PyTorch ----------------------------------------------------------------------------------

def load_torch():
    try:
        import torch
    except Exception as exc:  # not installed, or a broken build
        return None, f"{type(exc).__name__}: {exc}"
    torch.set_num_threads(1)
    return torch, f"torch {torch.__version__}, {torch.get_num_threads()} thread"


def torch_functions(torch, stride, padding):
    import torch.nn.functional as tf
    from torch.nn.grad import conv2d_input, conv2d_weight

    def forward(x, w, b):
        with torch.no_grad():
            return tf.conv2d(x, w, b, stride=stride, padding=padding)

    def backward(d_out, x, w):
        with torch.no_grad():
            dx = conv2d_input(x.shape, w, d_out, stride=stride, padding=padding)
            dw = conv2d_weight(x, w.shape, d_out, stride=stride, padding=padding)
            db = d_out.sum(dim=(0, 2, 3))
        return dx, dw, db

    return forward, backward


# --- timing ---------------------------------------------------------------------------------

def median_ms(samples):
    return 1e3 * statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    for name, default in (("N", 8), ("C", 16), ("H", 32), ("W", 32), ("F", 32), ("K", 3),
                          ("stride", 1), ("padding", 1)):
        parser.add_argument(f"--{name}", type=int, default=default)
    args = parser.parse_args()
    N, C, H, W, F, K = args.N, args.C, args.H, args.W, args.F, args.K
    stride, padding = args.stride, args.padding
    ref = load_reference()
    torch, torch_note = load_torch()
    rng = np.random.default_rng(0)

    def fresh():
        x = rng.standard_normal((N, C, H, W))
        w = rng.standard_normal((F, C, K, K)) * 0.1
        b = rng.standard_normal(F)
        return x, w, b

    print(f"layer: x ({N}, {C}, {H}, {W}), w ({F}, {C}, {K}, {K}), stride {stride}, "
          f"padding {padding}; float64; one thread; {args.repeats} repetitions, fresh inputs each")
    print(f"numpy {np.__version__}; PyTorch: {torch_note if torch else 'not available (' + torch_note + ')'}")

    # Correctness first: every implementation against the reference on one input.
    x, w, b = fresh()
    out, cache = ref.conv2d_forward(x, w, b, stride, padding)
    d_out = rng.standard_normal(out.shape)
    grads = ref.conv2d_backward(d_out, cache)
    loop_out, loop_cache = loop_forward(x, w, b, stride, padding)
    loop_grads = loop_backward(d_out, loop_cache)
    errors = {"loop": max(float(np.max(np.abs(a - e))) for a, e in
                          zip((loop_out, *loop_grads), (out, *grads)))}
    if torch:
        t_fwd, t_bwd = torch_functions(torch, stride, padding)
        tx, tw, tb, td = (torch.from_numpy(a) for a in (x, w, b, d_out))
        t_grads = t_bwd(td, tx, tw)
        errors["torch"] = max(float(np.max(np.abs(a.numpy() - e))) for a, e in
                              zip((t_fwd(tx, tw, tb), *t_grads), (out, *grads)))
    print("max |difference| from the reference (out, dx, dw, db): " +
          ", ".join(f"{k} {v:.1e}" for k, v in errors.items()))

    # Interleaved repetitions, fresh inputs each, so that load drifts hit everyone alike.
    times = {key: [] for key in ("ref_fwd", "ref_bwd", "loop_fwd", "loop_bwd",
                                 "torch_fwd", "torch_bwd")}
    for rep in range(args.repeats + 1):  # the first round warms up and is dropped
        x, w, b = fresh()
        d_out = rng.standard_normal(out.shape)
        measured = {}
        t = time.perf_counter()
        _, cache = ref.conv2d_forward(x, w, b, stride, padding)
        measured["ref_fwd"] = time.perf_counter() - t
        t = time.perf_counter()
        ref.conv2d_backward(d_out, cache)
        measured["ref_bwd"] = time.perf_counter() - t
        t = time.perf_counter()
        _, cache = loop_forward(x, w, b, stride, padding)
        measured["loop_fwd"] = time.perf_counter() - t
        t = time.perf_counter()
        loop_backward(d_out, cache)
        measured["loop_bwd"] = time.perf_counter() - t
        if torch:
            tx, tw, tb, td = (torch.from_numpy(a) for a in (x, w, b, d_out))
            t = time.perf_counter()
            t_fwd(tx, tw, tb)
            measured["torch_fwd"] = time.perf_counter() - t
            t = time.perf_counter()
            t_bwd(td, tx, tw)
            measured["torch_bwd"] = time.perf_counter() - t
        if rep:
            for key, value in measured.items():
                times[key].append(value)

    med = {key: median_ms(v) for key, v in times.items() if v}
    print()
    print(f"{'':10s} {'reference':>12s} {'pixel loop':>12s} {'PyTorch':>12s} "
          f"{'loop/ref':>9s} {'ref/torch':>10s}")
    for step in ("fwd", "bwd"):
        r, lp = med[f"ref_{step}"], med[f"loop_{step}"]
        tt = med.get(f"torch_{step}")
        torch_cols = (f"{tt:10.2f} ms" if tt else f"{'-':>12s}")
        ratio_torch = (f"{r / tt:9.2f}x" if tt else f"{'-':>10s}")
        print(f"{'forward' if step == 'fwd' else 'backward':10s} {r:9.2f} ms {lp:9.2f} ms "
              f"{torch_cols} {lp / r:8.2f}x {ratio_torch}")
    print()
    if torch:
        ratio = med["ref_fwd"] / med["torch_fwd"]
        verdict = "met" if ratio <= TARGET_VS_TORCH else "NOT met"
        print(f"target: reference forward within {TARGET_VS_TORCH:g}x of PyTorch: {verdict} "
              f"({ratio:.2f}x)")
    else:
        print(f"target (reference forward within {TARGET_VS_TORCH:g}x of PyTorch): not checked, "
              "PyTorch is not installed")


if __name__ == "__main__":
    main()
