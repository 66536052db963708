"""dw computed per sample in a loop over the batch, with `=` instead of `+=`: only the last
sample's contribution survives."""
import numpy as np


def conv2d_forward(x, w, b, stride=1, padding=0):
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    H_out = (H + 2 * padding - KH) // stride + 1
    W_out = (W + 2 * padding - KW) // stride + 1
    x_pad = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    cols = np.stack([x_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride]
                     for p in range(KH) for q in range(KW)], axis=2)   # (N, C, KH*KW, H_out, W_out)
    cols = cols.reshape(N, C * KH * KW, H_out * W_out)
    out = np.matmul(w.reshape(F, -1), cols) + b[:, None]               # (N, F, H_out*W_out)
    return out.reshape(N, F, H_out, W_out), (cols, x.shape, w, stride, padding)


def conv2d_backward(d_out, cache):
    cols, x_shape, w, stride, padding = cache
    N, C, H, W = x_shape
    F, _, KH, KW = w.shape
    _, _, H_out, W_out = d_out.shape
    d_mat = d_out.reshape(N, F, H_out * W_out)
    db = d_mat.sum(axis=(0, 2))
    for n in range(N):
        dw = (d_mat[n] @ cols[n].T).reshape(w.shape)
    d_cols = np.matmul(w.reshape(F, -1).T, d_mat).reshape(N, C, KH, KW, H_out, W_out)
    dx_pad = np.zeros((N, C, H + 2 * padding, W + 2 * padding))
    for p in range(KH):
        for q in range(KW):
            dx_pad[:, :, p:p + stride * H_out:stride, q:q + stride * W_out:stride] += d_cols[:, :, p, q]
    return dx_pad[:, :, padding:padding + H, padding:padding + W], dw, db
