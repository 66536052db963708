"""A correct but slow convolution: a Python loop over output pixels.

Each step of the loop is vectorized over the batch, the filters and the channels (one
broadcast multiply-and-sum per output pixel, as in a first "naive" version), but there are
H_out * W_out steps of Python per call, each building an (N, F, C, KH, KW) temporary.
"""
import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            patch = x_pad[:, :, i * stride:i * stride + KH, j * stride:j * stride + KW]
            # (N, 1, C, KH, KW) * (1, F, C, KH, KW), summed over C, KH, KW -> (N, F)
            out[:, :, i, j] = np.sum(patch[:, None] * w[None], axis=(2, 3, 4)) + b
    cache = (x, w, b, stride, padding)
    return out, cache


def conv2d_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    db = np.zeros_like(b)
    for i in range(H_out):
        for j in range(W_out):
            rows = slice(i * stride, i * stride + KH)
            cols = slice(j * stride, j * stride + KW)
            g = d_out[:, :, i, j][:, :, None, None, None]                 # (N, F, 1, 1, 1)
            dw += np.sum(g * x_pad[:, None, :, rows, cols], axis=0)
            dx_pad[:, :, rows, cols] += np.sum(g * w[None], axis=1)
            db += d_out[:, :, i, j].sum(axis=0)
    dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    return dx, dw, db
