"""Objective measures of a style transfer: how close the output comes to the style, how much
of the content it keeps, how near it is to a ground truth, and whether it is sound audio.

Every measure but the sanity checks is taken on a mono mix (mean of the channels) resampled
to 22.05 kHz, in frames of 2048 samples (Hann window) every 512 samples (23.2 ms), frames
centred as in librosa. A frame is *active* when its power (sum over the STFT bins) is within
60 dB of the signal's loudest frame. Where two signals are compared frame by frame, the
longer one is cut to the shorter.

Style closeness (``*_output``: output vs style, ``*_content``: content vs style):

- ``mfcc_distance_*``: d = |mu_a - mu_s|^2 + tr(S_a + S_s - 2 (S_a S_s)^(1/2)), the Fréchet
  distance (reported as d, not sqrt(d)) between Gaussians (maximum-likelihood mean mu and
  covariance S) fitted to the MFCCs c1-c20 of the active frames (21 MFCCs from 128 mel bands,
  c0 dropped), of output or content (a) and style (s).
- ``style_gain_mfcc`` = 1 - d(output, style) / d(content, style): 1 when the output matches
  the style, 0 when it is no closer than the content, negative when it is further away.
- ``texture_distance_*``: D = sqrt(sum_g (1/5) mean_i (t_gi - t'_gi)^2), a distance between
  sound-texture statistics t in five groups g of equal weight 1/5 (each entry i of a group
  weighs 1/n_g) of the 32 mel-band envelopes e_k = (mel power)^0.15 (amplitude compressed by
  ^0.3): spectral shape mean(e_k) / mean_k mean(e_k), coefficient of variation std/mean,
  skewness, the 496 cross-band envelope correlations (these four over active frames), and
  each band's share of envelope power in the 6 modulation bands 0.5-1-2-4-8-16-21.5 Hz (21.5
  Hz is the frame rate's Nyquist limit; all frames, Hann window), times 6 so that an even
  spread is 1. All statistics are free of level and of order 1.
- ``style_gain_texture`` = 1 - D(output, style) / D(content, style).

Content kept (output vs content):

- ``onset_corr``: max over lags -2..+2 frames of the Pearson correlation of the onset
  strength envelopes (librosa, from the 128-band log mel spectrogram).
- ``chroma_cos``: mean over the content's active frames of the cosine similarity
  a.b / (|a| |b|) of CQT chroma vectors (librosa ``chroma_cqt``, both with the tuning
  estimated from the content; 0 where one is all zero).
- ``loudness_corr``: Pearson correlation of the frame RMS levels in dB, each floored at
  80 dB below its own loudest frame.
- ``f0_raw_pitch``: over the content's voiced frames, the share where the output's pitch is
  within 50 cents of the content's (`styletransfer.pitch`: pyin, 65-2093 Hz, a quarter
  semitone grid; octave errors count as wrong). It follows one voice: a measure of notes
  for one-voice content, not for chords or full mixes.
- ``f0_voicing``: over the frames active in either, the share where content and output are
  both voiced or both unvoiced (pyin's decision).

Against a ground truth T (``mcd_output``: output vs T, ``mcd_content``: content vs T):

- ``mcd_*``: MCD = (10 / ln 10) sqrt(2 sum_d (c_d - c'_d)^2) in dB, averaged over frames
  aligned by index, c1-c24 the type-2 orthonormal DCT over bands of the natural log of the
  40-band mel power spectrum, each signal floored 80 dB below its own largest mel power, so
  that with c0 left out the overall level does not count (cepstra of log power, not of log
  amplitude: values are twice as large as with amplitude cepstra).
- ``mcd_reduction`` = 1 - mcd_output / mcd_content (NaN without a ground truth).

Sanity (output as given, at its own rate, all channels):

- ``duration_ratio`` = output duration / content duration (seconds, each at its own rate).
- ``peak_dbfs`` = 20 log10 max |x| over the finite samples (-inf when all are zero).
- ``clip_fraction``: share of samples with |x| >= 0.999 (non-finite ones not counted).
- ``nonfinite_fraction``: share of samples that are NaN or infinite; every other measure
  takes them as 0.
- ``silent`` = 1.0 when the RMS of the output is below -80 dBFS, else 0.0.

A ratio whose denominator is 0, or a correlation of a constant signal, is NaN.

Examples
--------
>>> from styletransfer.demo import breathy_drone, plucked_melody
>>> content = plucked_melody(22050, notes=(60, 64, 67))
>>> style = breathy_drone(22050, seconds=1.5)
>>> m = evaluate(content, style, content, 22050)
>>> m["style_gain_mfcc"], round(m["onset_corr"], 6), m["duration_ratio"]
(0.0, 1.0, 1.0)
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft
import scipy.linalg

from .audio import check_audio, load, read, resample
from .errors import ParameterError
from .pitch import raw_pitch, track_f0, voicing_agreement

#: Rate, frame length and hop of every measure.
SR = 22050
N_FFT = 2048
HOP = 512
#: Frames within this many dB of the loudest frame are active.
ACTIVE_DB = 60.0
#: Samples at or above this magnitude count as clipped.
CLIP_LEVEL = 0.999
#: Output RMS below this level (dBFS) counts as silent.
SILENT_DBFS = -80.0
#: Shortest signal measured, in seconds.
MIN_SECONDS = 0.1
#: Mel bands: MFCCs, texture envelopes, mel cepstra for MCD.
MFCC_MELS, TEXTURE_MELS, MCD_MELS = 128, 32, 40
#: Modulation band edges (Hz); the last band ends at the frame rate's Nyquist limit.
MODULATION_EDGES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
#: Largest lag (frames) searched by ``onset_corr``.
ONSET_LAGS = 2

#: The measures, in display order, with their format, unit and explanation.
_TABLE: dict[str, tuple[str, str, str]] = {
    "mfcc_distance_output": (".4g", "", "MFCC Fréchet distance, output vs style"),
    "mfcc_distance_content": (".4g", "", "MFCC Fréchet distance, content vs style"),
    "style_gain_mfcc": (".3f", "", "1 - output/content MFCC distance (1 = style reached)"),
    "texture_distance_output": (".4g", "", "texture-statistics distance, output vs style"),
    "texture_distance_content": (".4g", "", "texture-statistics distance, content vs style"),
    "style_gain_texture": (".3f", "", "1 - output/content texture distance (1 = style reached)"),
    "onset_corr": (".3f", "", "onset-strength correlation with the content (1 = same rhythm)"),
    "chroma_cos": (".3f", "", "chroma cosine similarity with the content (1 = same pitches)"),
    "loudness_corr": (".3f", "", "loudness-curve correlation with the content (1 = same)"),
    "f0_raw_pitch": (".3f", "", "share of the content's voiced frames whose pitch is kept "
                     "(pyin, one-voice content)"),
    "f0_voicing": (".3f", "", "share of active frames voiced in both or in neither (pyin)"),
    "mcd_output": (".2f", "dB", "mel-cepstral distortion, output vs ground truth"),
    "mcd_content": (".2f", "dB", "mel-cepstral distortion, content vs ground truth"),
    "mcd_reduction": (".3f", "", "1 - output/content MCD (1 = matches the ground truth)"),
    "duration_ratio": (".3f", "", "output duration / content duration"),
    "peak_dbfs": (".1f", "dBFS", "output peak level"),
    "clip_fraction": (".3g", "", "share of output samples at |x| >= 0.999"),
    "nonfinite_fraction": (".3g", "", "share of output samples that are NaN or infinite"),
    "silent": (".0f", "", "1 if the output is below -80 dBFS RMS, else 0"),
}
METRICS: tuple[str, ...] = tuple(_TABLE)

_Path = str | os.PathLike[str]


@dataclass(frozen=True)
class _Signal:
    """A mono 22.05 kHz signal with its STFT power, 128-band log mel spectrum and activity."""

    y: np.ndarray
    power: np.ndarray
    log_mel: np.ndarray
    active: np.ndarray


def evaluate(content: np.ndarray, style: np.ndarray, output: np.ndarray, sr: int, *,
             truth: np.ndarray | None = None) -> dict[str, float]:
    """Measure how well ``output`` takes the style's timbre and keeps the content.

    Parameters
    ----------
    content, style, output : np.ndarray
        Audio, ``(n_channels, n_samples)`` or 1-D, all at rate ``sr``. The output may hold
        NaN or infinite samples (they are counted and taken as 0); the others may not.
    sr : int
        Sample rate of the arrays.
    truth : np.ndarray, optional
        The content as rendered in the style (ground truth), same rate and timing as the
        content; without it the ``mcd_*`` measures are NaN.

    Returns
    -------
    dict
        One float per name in `METRICS`; see the module's description for the formulas.

    Raises
    ------
    ParameterError
        An array is empty, shorter than 0.1 s, not 1-D or 2-D, or (content, style, truth)
        silent or not finite.

    Examples
    --------
    >>> from styletransfer.demo import breathy_drone, plucked_melody
    >>> content = plucked_melody(22050, notes=(60, 64, 67))
    >>> style = breathy_drone(22050, seconds=1.5)
    >>> m = evaluate(content, style, style, 22050)
    >>> round(m["style_gain_mfcc"], 6), round(m["style_gain_texture"], 6)
    (1.0, 1.0)
    >>> bool(m["chroma_cos"] < 0.9), math.isnan(m["mcd_output"])
    (True, True)
    """
    _check_rate(sr)
    named = {"content": content, "style": style}
    if truth is not None:
        named["truth"] = truth
    return _evaluate({name: (y, sr) for name, y in named.items()}, (output, sr))


def mel_cepstra(y: np.ndarray, sr: int) -> np.ndarray:
    """``(24, n_frames)`` mel cepstra c1-c24 of ``y``, as the ``mcd_*`` measures take them.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(22050)
    >>> mel_cepstra(y, 22050).shape
    (24, 44)
    """
    _check_rate(sr)
    y2 = _as_2d(y, "audio")
    check_audio(y2, name="audio")
    return _cepstra(_prepare(y2, sr))


def mcd_per_frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mel-cepstral distortion in dB of each frame of two `mel_cepstra`, aligned by index
    (the longer cut to the shorter); ``mcd_*`` is its mean.

    Examples
    --------
    >>> a = np.zeros((24, 3)); b = a.copy(); b[0, 1] = 1.0
    >>> mcd_per_frame(a, b).round(3).tolist()
    [0.0, 6.142, 0.0]
    """
    n = min(a.shape[1], b.shape[1])
    diff = a[:, :n] - b[:, :n]
    return np.asarray(10 / np.log(10) * np.sqrt(2 * np.sum(diff**2, axis=0)))


def evaluate_files(content: _Path, style: _Path, output: _Path,
                   truth: _Path | None = None) -> dict[str, float]:
    """`evaluate` for audio files, each at its own sample rate.

    The output file is read as it is, so silent or damaged (NaN) output is measured rather
    than refused; the other files must be sound audio.

    Examples
    --------
    >>> m = evaluate_files("content.wav", "style.wav", "content.styled.wav")  # doctest: +SKIP
    >>> print(format_report(m))  # doctest: +SKIP
    """
    named = {"content": content, "style": style}
    if truth is not None:
        named["truth"] = truth
    inputs = {name: load(path) for name, path in named.items()}
    return _evaluate(inputs, _read_output(output))


def format_report(metrics: Mapping[str, float]) -> str:
    """Aligned lines, one per measure: name, value, unit and what it means.

    Measures are listed in `METRICS` order, then any others; NaN shows as ``n/a``.

    Examples
    --------
    >>> print(format_report({"onset_corr": 0.91234, "peak_dbfs": -1.0, "mcd_output": math.nan}))
    onset_corr   0.912       onset-strength correlation with the content (1 = same rhythm)
    mcd_output   n/a         mel-cepstral distortion, output vs ground truth
    peak_dbfs    -1.0 dBFS   output peak level
    """
    keys = [k for k in METRICS if k in metrics] + [k for k in metrics if k not in _TABLE]
    if not keys:
        return ""
    rows = []
    for key in keys:
        spec, unit, text = _TABLE.get(key, (".4g", "", ""))
        value = float(metrics[key])
        shown = "n/a" if math.isnan(value) else f"{value:{spec}}" + (f" {unit}" if unit else "")
        rows.append((key, shown, text))
    name_w = max(len(r[0]) for r in rows)
    value_w = max(len(r[1]) for r in rows)
    return "\n".join(f"{k:<{name_w}}   {v:<{value_w}}   {t}".rstrip() for k, v, t in rows)


def _evaluate(inputs: dict[str, tuple[np.ndarray, int]],
              output: tuple[np.ndarray, int]) -> dict[str, float]:
    """All measures from the named inputs (content, style, optional truth) and the output."""
    arrays = {}
    for name, (y, sr) in inputs.items():
        y2 = _as_2d(y, name)
        check_audio(y2, name=name)
        arrays[name] = (y2, sr)
    out, out_sr = _as_2d(output[0], "output"), output[1]
    for name, (y2, sr) in [*arrays.items(), ("output", (out, out_sr))]:
        if y2.shape[1] < MIN_SECONDS * sr:
            raise ParameterError(f"{name}: {y2.shape[1] / sr:.3f} s is too short to measure: "
                                 f"give at least {MIN_SECONDS} s of audio")

    finite = np.isfinite(out)
    clean = np.where(finite, out, 0.0)
    signals = {name: _prepare(y2, sr) for name, (y2, sr) in arrays.items()}
    o = _prepare(clean, out_sr)
    c, s = signals["content"], signals["style"]

    metrics: dict[str, float] = {}
    s_mfcc = _mfcc_gaussian(s)
    metrics["mfcc_distance_output"] = _frechet_distance(*_mfcc_gaussian(o), *s_mfcc)
    metrics["mfcc_distance_content"] = _frechet_distance(*_mfcc_gaussian(c), *s_mfcc)
    metrics["style_gain_mfcc"] = _gain(metrics["mfcc_distance_output"],
                                       metrics["mfcc_distance_content"])
    s_tex = _texture_stats(s)
    metrics["texture_distance_output"] = _texture_distance(_texture_stats(o), s_tex)
    metrics["texture_distance_content"] = _texture_distance(_texture_stats(c), s_tex)
    metrics["style_gain_texture"] = _gain(metrics["texture_distance_output"],
                                          metrics["texture_distance_content"])
    metrics["onset_corr"] = _onset_corr(o, c)
    metrics["chroma_cos"] = _chroma_cos(o, c)
    metrics["loudness_corr"] = _loudness_corr(o, c)
    c_f0, o_f0 = track_f0(c.y), track_f0(o.y)
    n = min(c.active.size, o.active.size)
    metrics["f0_raw_pitch"] = raw_pitch(c_f0, o_f0)
    metrics["f0_voicing"] = voicing_agreement(c_f0, o_f0, c.active[:n] | o.active[:n])

    if "truth" in signals:
        t_cep = _cepstra(signals["truth"])
        metrics["mcd_output"] = _mcd(_cepstra(o), t_cep)
        metrics["mcd_content"] = _mcd(_cepstra(c), t_cep)
        metrics["mcd_reduction"] = _gain(metrics["mcd_output"], metrics["mcd_content"])
    else:
        metrics["mcd_output"] = metrics["mcd_content"] = metrics["mcd_reduction"] = math.nan

    c_y, c_sr = arrays["content"]
    metrics["duration_ratio"] = (out.shape[1] / out_sr) / (c_y.shape[1] / c_sr)
    peak = float(np.max(np.abs(clean)))
    metrics["peak_dbfs"] = 20 * math.log10(peak) if peak > 0 else -math.inf
    metrics["clip_fraction"] = float(np.mean(np.abs(clean) >= CLIP_LEVEL))
    metrics["nonfinite_fraction"] = float(1.0 - np.mean(finite))
    rms = math.sqrt(float(np.mean(np.square(clean, dtype=np.float64))))
    metrics["silent"] = float(rms < 10 ** (SILENT_DBFS / 20))
    return {key: float(metrics[key]) for key in METRICS}


def _check_rate(sr: int) -> None:
    if not isinstance(sr, int | np.integer) or sr <= 0:
        raise ParameterError(f"sample rate {sr!r} is invalid: give a positive whole number of Hz")


def _as_2d(y: np.ndarray, name: str) -> np.ndarray:
    """``y`` as a float ``(n_channels, n_samples)`` array."""
    y = np.asarray(y)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2:
        raise ParameterError(f"{name}: audio must be 1-D or (n_channels, n_samples), "
                             f"got shape {y.shape}")
    if y.size == 0:
        raise ParameterError(f"{name}: has no samples (zero length): give audio with sound in it")
    if y.shape[0] > y.shape[1]:
        raise ParameterError(f"{name}: shape {y.shape} has more channels than samples: "
                             "pass (n_channels, n_samples), e.g. y.T")
    if not np.issubdtype(y.dtype, np.floating):
        raise ParameterError(f"{name}: samples are {y.dtype}: give float audio in -1..1")
    return y


def _read_output(path: _Path) -> tuple[np.ndarray, int]:
    """Read the output file as it is: silent or non-finite samples are allowed."""
    data, sr = read(path)
    if data.size == 0:
        raise ParameterError(f"{path}: has no samples (zero length): "
                             "give a file with audio in it")
    return data, sr


def _prepare(y: np.ndarray, sr: int) -> _Signal:
    """Mix down, resample to 22.05 kHz and take the features every measure shares."""
    import librosa

    mono = resample(np.asarray(y, dtype=np.float64).mean(axis=0), sr, SR)
    power = np.abs(librosa.stft(mono, n_fft=N_FFT, hop_length=HOP)) ** 2
    log_mel = librosa.power_to_db(_mel(power, MFCC_MELS))
    frame_power = power.sum(axis=0)
    active = frame_power >= frame_power.max() * 10 ** (-ACTIVE_DB / 10)
    return _Signal(mono, power, log_mel, active)


@lru_cache(maxsize=4)
def _mel_filters(n_mels: int) -> np.ndarray:
    import librosa

    return np.asarray(librosa.filters.mel(sr=SR, n_fft=N_FFT, n_mels=n_mels), dtype=np.float64)


def _mel(power: np.ndarray, n_mels: int) -> np.ndarray:
    return np.asarray(_mel_filters(n_mels) @ power)


def _mfcc_gaussian(sig: _Signal) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (maximum likelihood) of c1-c20 over the active frames."""
    import librosa

    mfcc = librosa.feature.mfcc(S=sig.log_mel, n_mfcc=21)[1:, sig.active]
    mu = mfcc.mean(axis=1)
    centred = mfcc - mu[:, None]
    return mu, centred @ centred.T / mfcc.shape[1]


def _frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray,
                      cov2: np.ndarray) -> float:
    """Fréchet distance d = |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)) of two Gaussians.

    Examples
    --------
    >>> _frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.array([1.0, 2.0]),
    ...                   np.diag([4.0, 9.0]))
    7.0
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        root = np.real(scipy.linalg.sqrtm(cov1 @ cov2))
    diff = mu1 - mu2
    d = float(diff @ diff + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(root))
    return max(d, 0.0)


def _texture_stats(sig: _Signal) -> list[np.ndarray]:
    """Five groups of level-free sound-texture statistics of the 32 mel-band envelopes:
    spectral shape, coefficient of variation, skewness, cross-band correlation (active
    frames) and modulation-band power shares times the number of modulation bands.
    """
    env = _mel(sig.power, TEXTURE_MELS) ** 0.15
    act = env[:, sig.active]
    mu = act.mean(axis=1)
    sd = act.std(axis=1)
    shape = _safe_div(mu, np.full_like(mu, mu.mean()))
    cv = _safe_div(sd, mu)
    z = _safe_div(act - mu[:, None], np.broadcast_to(sd[:, None], act.shape))
    skew = np.mean(z**3, axis=1)
    corr = (z @ z.T / act.shape[1])[np.triu_indices(TEXTURE_MELS, k=1)]

    n = env.shape[1]
    centred = (env - env.mean(axis=1, keepdims=True)) * np.hanning(n)
    spectrum = np.abs(np.fft.rfft(centred, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, d=HOP / SR)
    edges = np.array([*MODULATION_EDGES, np.inf])
    bands = (freqs[None, :] >= edges[:-1, None]) & (freqs[None, :] < edges[1:, None])
    total = spectrum[:, 1:].sum(axis=1, keepdims=True)
    share = _safe_div(spectrum @ bands.T, np.broadcast_to(total, (TEXTURE_MELS, bands.shape[0])))
    return [shape, cv, skew, corr, bands.shape[0] * share.ravel()]


def _texture_distance(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    """sqrt of the mean over groups of each group's mean squared difference."""
    return math.sqrt(float(np.mean([np.mean((x - y) ** 2) for x, y in zip(a, b, strict=True)])))


def _onset_corr(out: _Signal, content: _Signal) -> float:
    """Largest Pearson correlation of the onset envelopes over lags -2..+2 frames."""
    import librosa

    a = librosa.onset.onset_strength(S=out.log_mel, sr=SR)
    b = librosa.onset.onset_strength(S=content.log_mel, sr=SR)
    n = min(a.size, b.size)
    a, b = a[:n], b[:n]
    best = math.nan
    for lag in range(-ONSET_LAGS, ONSET_LAGS + 1):
        r = _pearson(a[max(lag, 0):n + min(lag, 0)], b[max(-lag, 0):n - max(lag, 0)])
        if not math.isnan(r) and (math.isnan(best) or r > best):
            best = r
    return best


def _chroma_cos(out: _Signal, content: _Signal) -> float:
    """Mean cosine similarity of CQT chroma over the content's active frames.

    Both chromagrams use the tuning estimated from the content, so they share their bins;
    they are taken together, as two channels cut to the shorter length.
    """
    import librosa

    tuning = float(librosa.estimate_tuning(y=content.y, sr=SR, bins_per_octave=36))
    n = min(out.y.size, content.y.size)
    with warnings.catch_warnings():
        # The lowest octaves of a short clip are shorter than their filters; librosa pads.
        warnings.filterwarnings("ignore", message="n_fft=.* is too large", category=UserWarning)
        a, b = librosa.feature.chroma_cqt(y=np.stack([out.y[:n], content.y[:n]]), sr=SR,
                                          hop_length=HOP, tuning=tuning)
    keep = content.active[:a.shape[1]]
    a, b = a[:, keep], b[:, keep]
    norms = np.linalg.norm(a, axis=0) * np.linalg.norm(b, axis=0)
    cos = _safe_div(np.sum(a * b, axis=0), norms)
    return float(cos.mean()) if cos.size else math.nan


def _loudness_corr(out: _Signal, content: _Signal) -> float:
    """Pearson correlation of the frame RMS levels in dB (floor: 80 dB below the loudest)."""
    a, b = _rms_db(out.power), _rms_db(content.power)
    n = min(a.size, b.size)
    return _pearson(a[:n], b[:n])


def _rms_db(power: np.ndarray) -> np.ndarray:
    """Frame RMS level in dB from STFT power (Parseval), floored 80 dB below the loudest."""
    energy = power.sum(axis=0)
    floor = max(float(energy.max()) * 1e-8, 1e-30)
    return np.asarray(10 * np.log10(np.maximum(energy, floor)))


def _cepstra(sig: _Signal) -> np.ndarray:
    """c1-c24: type-2 orthonormal DCT over bands of the natural log of the 40-band mel power,
    floored 80 dB below its largest value (so a change of level only moves c0).
    """
    mel = _mel(sig.power, MCD_MELS)
    floor = max(float(mel.max()) * 1e-8, 1e-30)
    return np.asarray(scipy.fft.dct(np.log(np.maximum(mel, floor)), type=2, norm="ortho",
                                    axis=0)[1:25])


def _mcd(a: np.ndarray, b: np.ndarray) -> float:
    """Mel-cepstral distortion in dB, averaged over frames aligned by index."""
    return float(np.mean(mcd_per_frame(a, b)))


def _gain(distance: float, reference: float) -> float:
    """1 - distance / reference, NaN when the reference is 0 or NaN."""
    if math.isnan(reference) or reference <= 0:
        return math.nan
    return 1.0 - distance / reference


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation, NaN when either series is constant or shorter than 2."""
    if a.size < 2:
        return math.nan
    da, db = a - a.mean(), b - b.mean()
    norm = math.sqrt(float(da @ da) * float(db @ db))
    return float(da @ db) / norm if norm > 0 else math.nan


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, with 0 where den is 0."""
    out = np.zeros(np.broadcast_shapes(num.shape, den.shape))
    np.divide(num, den, out=out, where=den > 0)
    return out
