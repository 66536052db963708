"""np.pad(x, padding) pads every axis, the batch and channel axes included."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    x_pad = np.pad(x, padding)
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.einsum("nchwij,fcij->nfhw", win, w, optimize=True) + b.reshape(1, F, 1, 1)
    return out, (x, w, b, stride, padding)


def conv2d_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    x_pad = np.pad(x, padding)
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    db = d_out.sum(axis=(0, 2, 3))
    dw = np.einsum("nfhw,nchwij->fcij", d_out, win, optimize=True)
    d_win = np.einsum("nfhw,fcij->ncijhw", d_out, w, optimize=True)
    dx_pad = np.zeros_like(x_pad)
    for i in range(KH):
        for j in range(KW):
            dx_pad[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] += d_win[:, :, i, j]
    return dx_pad[padding:padding + N, padding:padding + C, padding:padding + H,
                  padding:padding + W], dw, db
