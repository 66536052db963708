"""True convolution (the kernel flipped), as in a signal-processing textbook; the course uses
the lecture's cross-correlation (eq. 12). Backward is consistent with this forward."""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    w_flip = w[:, :, ::-1, ::-1]
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    out = np.tensordot(win, w_flip, axes=([1, 4, 5], [1, 2, 3]))     # (N, H_out, W_out, F)
    out = out.transpose(0, 3, 1, 2) + b.reshape(1, F, 1, 1)
    return out, (x, w, b, stride, padding)


def conv2d_backward(d_out, cache):
    x, w, b, stride, padding = cache
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    w_flip = w[:, :, ::-1, ::-1]
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    win = sliding_window_view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::stride, ::stride]
    db = d_out.sum(axis=(0, 2, 3))
    dw_flip = np.tensordot(d_out, win, axes=([0, 2, 3], [0, 2, 3]))   # (F, C, KH, KW)
    dw = dw_flip[:, :, ::-1, ::-1]
    d_win = np.tensordot(d_out, w_flip, axes=([1], [0]))                # (N, H_out, W_out, C, KH, KW)
    dx_pad = np.zeros_like(x_pad)
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride] += \
                d_win[:, :, :, :, p, q].transpose(0, 3, 1, 2)
    return dx_pad[:, :, padding:padding + H, padding:padding + W], dw, db
