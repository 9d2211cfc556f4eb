"""TEST ORACLES shared by the HiCLR augmentation tests: slow, per-sample NumPy restatements (written for these tests, in
our own words) of what the reference code does to one sample `(C, T, V, M)`, given the random values it drew
(HiCLR/AimCLR `feeder/tools.py`: shear, temperal_crop, random_spatial_flip with its hard-coded NTU joint list,
random_rotate, gaus_noise, GaussianBlurConv, axis_mask; HiCLR `processor/utils.py` Jointmask + `net/hiclr.py`).
They work in float64, as the reference does."""

import math

import numpy as np


def oracle_shear(x, a, b):
    "TEST ORACLE: tools.shear with s1_list = a, s2_list = b: each output coordinate row i is Σ_j S[i, j] x[j]."
    S = np.array([[1.0, a[0], b[0]], [a[1], 1.0, b[1]], [a[2], b[2], 1.0]])
    x = np.asarray(x, np.float64)
    return np.stack([S[i, 0] * x[0] + S[i, 1] * x[1] + S[i, 2] * x[2] for i in range(3)])


def oracle_temporal_crop(x, ratio, start):
    "TEST ORACLE: tools.temperal_crop: mirror p = T // ratio frames onto each end, then T frames from `start`."
    T = x.shape[1]
    p = T // ratio
    front = [x[:, p - 1 - i] for i in range(p)]  # frames p-1, ..., 0
    back = [x[:, T - 1 - i] for i in range(p)]  # frames T-1, ..., T-p
    padded = np.stack(front + [x[:, t] for t in range(T)] + back, axis=1)
    return padded[:, start : start + T]


def oracle_flip(x, flip, order):
    "TEST ORACLE: tools.random_spatial_flip once the coin is drawn: new joint v is old joint order[v]; no mirroring."
    return x[:, :, order, :] if flip else x


def oracle_rotate(x, degrees):
    "TEST ORACLE: tools.random_rotate given its draws: rotate row vectors by R.T about x, then y, then z."
    seq = np.asarray(x, np.float64).transpose(1, 2, 3, 0)  # (T, V, M, C): one row vector per joint
    for axis in range(3):
        a = math.radians(float(degrees[axis]))
        c, s = math.cos(a), math.sin(a)
        R = {
            0: [[1, 0, 0], [0, c, s], [0, -s, c]],
            1: [[c, 0, -s], [0, 1, 0], [s, 0, c]],
            2: [[c, s, 0], [-s, c, 0], [0, 0, 1]],
        }[axis]
        seq = seq @ np.array(R).T
    return seq.transpose(3, 0, 1, 2)


def oracle_noise(x, apply, noise):
    "TEST ORACLE: tools.gaus_noise given the coin and the noise array: noise on every entry."
    return np.asarray(x, np.float64) + noise if apply else np.asarray(x, np.float64)


def oracle_blur(x, sigma, apply, kernel_size=15, normalized=False):
    "TEST ORACLE: GaussianBlurConv given σ and the coin: each (c, v, m) series correlated with w over zero-padded time."
    if not apply:
        return np.asarray(x, np.float64)
    r = kernel_size // 2
    w = np.exp(-(np.arange(-r, r + 1) ** 2.0) / (2.0 * sigma**2))
    if normalized:
        w = w / w.sum()
    C, T, V, M = x.shape
    padded = np.zeros((C, T + 2 * r, V, M))
    padded[:, r : r + T] = x
    out = np.zeros((C, T, V, M))
    for j in range(kernel_size):
        out += w[j] * padded[:, j : j + T]
    return out


def oracle_axis_mask(x, apply, axis):
    "TEST ORACLE: tools.axis_mask given the coin and the axis."
    out = np.array(x, np.float64)
    if apply:
        out[axis] = 0
    return out


def oracle_joint_mask(batch, masked_tv, token):
    "TEST ORACLE: Jointmask + HiCLR's forward: batch (N,C,T,V,M) -> (N,T,M,V,C), x*mask, holes := token, back."
    N, C, T, V, M = batch.shape
    data = np.asarray(batch, np.float64).transpose(0, 2, 4, 3, 1)
    mask = np.ones((T, V))
    mask[masked_tv] = 0
    mask = np.tile(mask.reshape(1, T, 1, V, 1), (N, 1, M, 1, C))
    data = data * mask
    data[mask == 0] = token
    return data.transpose(0, 4, 1, 3, 2)
