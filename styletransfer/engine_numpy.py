"""The numpy engine: renders a RenderPlan by inverse wavelet transform.

- ``identity`` and ``timbre``: the content's coefficients, each band multiplied by its gain
  curve (frame gains interpolated linearly between frame centres at the band's own rate,
  so gains never step at a frame boundary).
- ``mosaic``: each frame takes the style coefficients of its chosen style frame, two frames
  long under a sine-squared window, overlap-added at half overlap (the windows sum to one,
  so consecutive style frames join seamlessly and jumps are crossfaded), times the gains.
  Then, by ``plan.envelope`` (0 to 1), the sound takes on the content's power envelope
  (averaged over an eighth of a frame), sample by sample after resynthesis, so attacks land
  where the content's do (deep wavelet bands alone would smear them over a frame).

With ``plan.shifts`` above 1 the rendering is repeated on transforms of the signal rotated
by 1, 2, ... samples and averaged ("cycle spinning"): band gains break the alias
cancellation of a critically sampled transform, and the aliases of differently shifted
transforms cancel in the average. Two shifts remove the images around the top band edge.
"""

from __future__ import annotations

import numpy as np

from .analysis import Analysis, band_sizes, decompose, packet_depths, synthesise
from .errors import ParameterError
from .plan import RenderPlan


def render(plan: RenderPlan, content: Analysis | None = None,
           style: Analysis | None = None) -> np.ndarray:
    """Render ``plan`` to audio, ``(plan.n_channels, plan.n_samples)``, in the analyses' dtype.

    Parameters
    ----------
    plan : RenderPlan
        What to render.
    content : Analysis
        The content's analysis (``identity``, ``timbre``, and ``mosaic`` with an envelope).
    style : Analysis
        The style's analysis, tracks concatenated (``mosaic``), with ``plan.n_channels``
        channels.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> y = np.random.default_rng(0).standard_normal((1, 3000))
    >>> a = analyse(y, 22050, wavelet="db4", level=4)
    >>> plan = RenderPlan.identity(sr=22050, n_samples=3000, n_channels=1, wavelet="db4",
    ...                            level=4, hop=a.hop)
    >>> bool(np.allclose(render(plan, a), y))
    True
    """
    if plan.mode == "mosaic":
        source = require_analysis(style, plan, "style", frames=None)
    else:
        source = require_analysis(content, plan, "content", frames=plan.n_frames)
    out = _render_shifted(plan, source, 0)
    for shift in range(1, plan.shifts):
        out += _render_shifted(plan, source, shift)
    if plan.shifts > 1:
        out /= plan.shifts
    if plan.mode == "mosaic" and plan.envelope > 0:
        guide = require_analysis(content, plan, "content", frames=plan.n_frames)
        out = follow_envelope(out, guide.signal, plan.hop, plan.envelope)
    return out


def _render_shifted(plan: RenderPlan, source: Analysis, shift: int) -> np.ndarray:
    """One rendering of ``plan`` from ``source`` transformed after a circular ``shift``."""
    sizes = band_sizes(plan.hop, plan.level, plan.bands_per_octave)
    bands = source.coeffs if shift == 0 else decompose(
        source.signal, wavelet=plan.wavelet, level=plan.level, hop=plan.hop, shift=shift,
        bands_per_octave=plan.bands_per_octave)
    if plan.mode == "mosaic":
        coeffs = [_overlap_add(band, plan.segments, plan.gains[:, b], m)
                  for b, (band, m) in enumerate(zip(bands, sizes, strict=True))]
    else:
        coeffs = [_apply_gains(band, plan.gains[:, b], m)
                  for b, (band, m) in enumerate(zip(bands, sizes, strict=True))]
    return synthesise(coeffs, wavelet=plan.wavelet, n_samples=plan.n_samples, shift=shift,
                      depths=packet_depths(plan.hop, plan.level, plan.bands_per_octave))


def gain_curve(frame_gains: np.ndarray, per_frame: int) -> np.ndarray:
    """Frame gains interpolated linearly between frame centres, ``per_frame`` values a frame.

    Examples
    --------
    >>> gain_curve(np.array([1.0, 3.0]), 2).tolist()
    [1.0, 1.5, 2.5, 3.0]
    """
    gains = np.asarray(frame_gains)
    offsets = (np.arange(per_frame) + 0.5) / per_frame - 0.5
    before = np.diff(gains, prepend=gains[:1])
    after = np.diff(gains, append=gains[-1:])
    half = per_frame // 2
    curve = np.empty((gains.shape[0], per_frame), dtype=gains.dtype)
    curve[:, :half] = gains[:, None] + offsets[:half] * before[:, None]
    curve[:, half:] = gains[:, None] + offsets[half:] * after[:, None]
    return curve.ravel()


def _apply_gains(band: np.ndarray, frame_gains: np.ndarray, per_frame: int) -> np.ndarray:
    """``band`` times the gain curve of ``frame_gains``, in the band's dtype."""
    return band * gain_curve(frame_gains.astype(band.dtype), per_frame)[None, :]


def follow_envelope(signal: np.ndarray, guide: np.ndarray, hop: int,
                    amount: float) -> np.ndarray:
    """Give ``signal`` the fine power envelope of ``guide`` (same shape).

    Both envelopes are moving power averages over an eighth of a frame, all channels
    together; ``signal`` is multiplied by ``(guide envelope / signal envelope)`` to the
    power ``amount / 2``, a boost bounded to +12 dB. What changes faster than the window
    (the signal's own texture) is kept.

    Examples
    --------
    >>> steady = np.ones((1, 64))
    >>> burst = np.concatenate([np.zeros(32), np.ones(32)])[None, :]
    >>> out = follow_envelope(steady, burst, hop=16, amount=1.0)
    >>> bool(out[0, :30].max() < 0.1 and out[0, 34:].min() > 0.9)
    True
    """
    from scipy.ndimage import uniform_filter1d

    width = max(1, hop // 8)
    power_signal = uniform_filter1d(np.einsum("cn,cn->n", signal, signal), width, mode="nearest")
    power_guide = uniform_filter1d(np.einsum("cn,cn->n", guide, guide), width, mode="nearest")
    ratio = ((power_guide + 1e-9 * float(power_guide.mean()) + 1e-30)
             / (power_signal + 1e-9 * float(power_signal.mean()) + 1e-30))
    np.minimum(ratio, 16.0, out=ratio)
    ratio **= amount / 2
    return np.asarray(signal * ratio)


def crossfade_window(per_frame: int) -> np.ndarray:
    """Sine-squared window two frames long whose halves sum to one.

    Examples
    --------
    >>> w = crossfade_window(4)
    >>> bool(np.allclose(w[:4] + w[4:], 1.0))
    True
    """
    phase = (np.arange(2 * per_frame) + 0.5) / (2 * per_frame)
    return np.asarray(np.sin(np.pi * phase) ** 2)


def _overlap_add(band: np.ndarray, segments: np.ndarray, gains: np.ndarray,
                 per_frame: int) -> np.ndarray:
    """Band coefficients of the chosen style frames, windowed and overlap-added.

    Each chosen block is two frames long: its first half lands on its own frame, its second
    half on the next one. The halves are gathered one at a time, so no two-frame copy of
    the whole output is ever made.
    """
    m, half = per_frame, per_frame // 2
    n_channels, n_frames = band.shape[0], segments.size
    padded = np.pad(band, ((0, 0), (half, 2 * m)))
    window = crossfade_window(m).astype(band.dtype)
    gains = gains.astype(band.dtype)[None, :, None]
    starts = segments[:, None] * m + np.arange(m)[None, :]
    out = np.empty((n_channels, n_frames + 1, m), dtype=band.dtype)
    np.multiply(padded[:, starts], window[:m], out=out[:, :-1])
    out[:, :-1] *= gains
    out[:, -1] = 0.0
    tail = padded[:, starts + m] * window[m:]
    tail *= gains
    out[:, 1:] += tail
    return out.reshape(n_channels, -1)[:, half: half + n_frames * m]


def require_analysis(analysis: Analysis | None, plan: RenderPlan, role: str,
                     frames: int | None) -> Analysis:
    """``analysis`` if ``plan`` can be rendered from it as its ``role`` (``content`` or
    ``style``), else `ParameterError` naming what differs."""
    if analysis is None:
        raise ParameterError(f"a {plan.mode} plan needs the {role}'s analysis to render")
    settings = (analysis.sr, analysis.wavelet, analysis.level, analysis.hop,
                analysis.bands_per_octave, analysis.n_channels)
    wanted = (plan.sr, plan.wavelet, plan.level, plan.hop, plan.bands_per_octave,
              plan.n_channels)
    if settings != wanted:
        raise ParameterError(f"the {role} was analysed with (sr, wavelet, level, hop, "
                             f"bands per octave, channels) "
                             f"= {settings}, the plan needs {wanted}")
    if frames is not None and analysis.n_frames != frames:
        raise ParameterError(f"the {role} has {analysis.n_frames} frames, the plan {frames}")
    if plan.mode == "mosaic" and role == "style" and plan.segments.size and (
            plan.segments.min() < 0 or plan.segments.max() >= analysis.n_frames):
        raise ParameterError(f"the plan's segments point outside the {role} "
                             f"({analysis.n_frames} frames)")
    return analysis
