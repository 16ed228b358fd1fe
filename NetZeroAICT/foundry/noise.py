"""CT-like noise: the texture of filtered back-projection, made in the Fourier domain.

FBP noise is not white: its noise power spectrum (NPS) in the axial plane rises with spatial frequency (the
ramp filter) and falls where the reconstruction kernel rolls off, giving the fine "grain" of a CT image;
along z it is smoothed by the slice profile. We draw a random spectrum, shape it by

    NPS(f_r, f_z) ∝ f_r · W(f_r)² · exp(−(f_z / f_z0)²),   W = Hann window up to the kernel cut-off,

and transform back once (one inverse real FFT of the whole volume), then scale to the wanted s.d. in HU.
The same field is added to both phases of a pair, so voxels contrast does not touch stay identical.
"""

from __future__ import annotations

import numpy as np
import scipy.fft


def ct_noise(shape_kji: tuple[int, int, int], sigma_hu: float, rng: np.random.Generator,
             kernel_cutoff: float = 0.8, z_correlation: float = 0.5) -> np.ndarray:
    """Correlated CT noise (float32 HU, mean 0, s.d. ``sigma_hu``) of shape (k, j, i).

    Args:
        kernel_cutoff: in-plane frequency (fraction of Nyquist) where the kernel's window reaches zero;
            0.6 = smooth soft-tissue kernel, 1.0 = sharp kernel.
        z_correlation: e-folding frequency along z as a fraction of Nyquist (smaller = thicker slices).
    """
    nk, nj, ni = shape_kji
    fy = np.fft.fftfreq(nj).astype(np.float32)[:, None] * 2.0       # fraction of Nyquist
    fx = np.fft.rfftfreq(ni).astype(np.float32)[None, :] * 2.0
    fz = np.fft.fftfreq(nk).astype(np.float32) * 2.0
    fr = np.sqrt(fx * fx + fy * fy)
    window = np.where(fr < kernel_cutoff, 0.5 + 0.5 * np.cos(np.pi * fr / kernel_cutoff), 0.0)
    amp_xy = (np.sqrt(fr) * window).astype(np.float32)                # sqrt(NPS)
    amp_z = np.exp(-0.5 * (fz / z_correlation) ** 2).astype(np.float32)
    spectrum = rng.standard_normal((nk, nj, ni // 2 + 1, 2), dtype=np.float32).view(np.complex64)[..., 0]
    spectrum *= amp_xy[None]
    spectrum *= amp_z[:, None, None]
    field = scipy.fft.irfftn(spectrum, s=(nk, nj, ni), workers=-1, overwrite_x=True)
    del spectrum
    # variance of the result from Parseval over the half spectrum (bins with fx > 0 count twice)
    weights = np.full(ni // 2 + 1, 2.0, dtype=np.float64)
    weights[0] = 1.0
    if ni % 2 == 0:
        weights[-1] = 1.0
    power = float((amp_xy.astype(np.float64) ** 2 * weights).sum() * (amp_z.astype(np.float64) ** 2).sum())
    std = np.sqrt(2.0 * power) / (nk * nj * ni)
    field *= np.float32(sigma_hu / max(std, 1e-12))
    return field.astype(np.float32, copy=False)
