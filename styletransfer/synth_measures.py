"""Measures of a synthesis: does it have the style's statistics, and is it new sound?

Every measure but the plan's runs is taken from audio, on the mono mix (mean of the
channels) resampled to 22.05 kHz, as in `styletransfer.evaluate`.

Statistics (``texture_*``). The texture statistics t(w) of a window w are those of
``texture_distance_*`` in `styletransfer.evaluate` (32 mel-band envelopes: spectral
shape, coefficient of variation, skewness, cross-band correlations, modulation power in
six bands; active frames within 60 dB of the window's loudest), taken in consecutive
windows of ``window`` seconds (5 s, the last incomplete window dropped), with the
distance d(t, t') = sqrt(mean_g mean_i (t_gi - t'_gi)^2) over the five groups g. Between
two signals A and B with windows A_1..A_m and B_1..B_n:

- D(A, B) = (1 / mn) sum_i sum_j d(t(A_i), t(B_j)), the mean distance over all pairs;
- ``texture_distance`` = D(output, R), ``texture_halves`` = D(S_1, S_2) and
  ``texture_ratio`` = D(output, R) / D(S_1, S_2). Without a held-back reference, R is
  the style S itself and S_1, S_2 are its first and second halves; with one (the
  benchmark's way: learn on the first half S_1 = S, compare with the other half R),
  the ratio is D(output, R) / D(S, R). 1 means the output is as close to the style as
  the style is to itself.

Copying (``*_copy_*``, in seconds; ``p95`` is weighted by time: 95 % of the output's
time lies in a verbatim stretch no longer than it, 0 for time in none):

- ``plan_copy_max`` / ``plan_copy_p95``: runs of consecutive style frames in the plan,
  ``segments[t + 1] = segments[t] + 1``, times the frame length (needs the plan).
- ``wave_copy_max`` / ``wave_copy_p95``: from the waveforms alone. The output is cut
  into blocks of 50 ms, x_b; a block *matches* the style y at offset o when
  NCC(x_b, y[t_b + o ...]) = sum (x - mean x)(y - mean y) / (|x - mean x| |y - mean y|)
  >= 0.95 (blocks 60 dB below the output's RMS never match); a *stretch* is a run of
  consecutive blocks that match at the same offset (within 2 samples). Offsets are
  searched through an index, not by scanning the style: every style position on a grid
  of 1/8 block is described by its block's log power in 32 bands (Hann window, unit
  length), those descriptors are reduced to 16 principal components in a k-d tree, and
  each output block's 6 nearest positions, with the positions that continue its
  neighbours' best matches, are checked exactly at every lag within 1/8 block (one FFT
  each). Cost: O(N log M) for N output and M style blocks.

State statistics (``state_js_*``): frames of 23 ms (the style model's grid) of output
and style are labelled with the model's most likely state; p, q are the state
frequencies (unigram) or the frequencies of consecutive pairs (bigram) of output and
style, and JS(p, q) = (1/2) KL(p || m) + (1/2) KL(q || m), m = (p + q) / 2, in bits
(0: the same, 1: disjoint).

Variety (``seed_correlation``): the Pearson correlation of two outputs (two seeds), over
their common length.

Examples
--------
>>> rng = np.random.default_rng(0)
>>> style = rng.standard_normal((1, 22050 * 3))
>>> copy = wave_copies(style[:, 22050:44100], style, 22050)
>>> round(copy["wave_copy_max"], 2), round(plan_copies(np.arange(100), 1024, 44100)[
...     "plan_copy_max"], 3)
(1.0, 2.322)
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from .audio import resample
from .errors import ParameterError
from .evaluate import SR, _prepare, _Signal, _texture_distance, _texture_stats

#: Texture statistics are compared in windows this long (seconds).
WINDOW_SECONDS = 5.0
#: Waveform blocks (seconds) and the correlation at which a block matches.
BLOCK_SECONDS = 0.05
MATCH_NCC = 0.95
#: Offsets within this many samples (at 22.05 kHz) continue a stretch.
OFFSET_TOLERANCE = 2
#: Style positions checked per output block, and the descriptor's size.
NEIGHBOURS = 6
DESCRIPTOR_BANDS = 32
DESCRIPTOR_DIMS = 16
#: Blocks this far (dB) below the output's RMS never match.
QUIET_DB = 60.0


def texture_windows(y: np.ndarray, sr: int, window: float = WINDOW_SECONDS,
                    ) -> list[list[np.ndarray]]:
    """Texture statistics of each whole ``window``-second window of ``y``.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((1, 22050 * 11))
    >>> len(texture_windows(y, 22050))
    2
    """
    sig = _prepare(_two_d(y), sr)
    width = round(window * SR / 512)
    out = []
    for start in range(0, sig.power.shape[1] - width + 1, width):
        power = sig.power[:, start: start + width]
        frame_power = power.sum(axis=0)
        active = frame_power >= frame_power.max() * 10 ** (-6.0)
        if frame_power.max() > 0 and active.sum() >= 2:
            out.append(_texture_stats(_Signal(sig.y, power, sig.log_mel[:, start: start + width],
                                              active)))
    return out


def texture_distance(a: Sequence[list[np.ndarray]], b: Sequence[list[np.ndarray]]) -> float:
    """D(A, B): the mean texture distance over all pairs of windows (NaN if one has none)."""
    if not a or not b:
        return math.nan
    return float(np.mean([_texture_distance(x, y) for x in a for y in b]))


def texture_measures(output: np.ndarray, style: np.ndarray, sr: int, *,
                     reference: np.ndarray | None = None,
                     window: float = WINDOW_SECONDS) -> dict[str, float]:
    """``texture_distance``, ``texture_halves`` and ``texture_ratio`` (see the module).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> style = rng.standard_normal((1, 22050 * 4))
    >>> m = texture_measures(style, style, 22050, window=1.0)
    >>> bool(m["texture_ratio"] < 1.0)
    True
    """
    out = texture_windows(output, sr, window)
    if reference is None:
        half = _two_d(style).shape[1] // 2
        first = texture_windows(_two_d(style)[:, :half], sr, window)
        second = texture_windows(_two_d(style)[:, half:], sr, window)
        target = texture_windows(style, sr, window)
    else:
        first, second = texture_windows(style, sr, window), texture_windows(reference, sr, window)
        target = second
    if not first or not second:
        raise ParameterError(f"the style is too short for texture windows of {window:g} s: "
                             f"give at least {2 * window:g} s of style (or a reference)")
    if not out:
        raise ParameterError(f"the output is shorter than one texture window ({window:g} s)")
    distance, halves = texture_distance(out, target), texture_distance(first, second)
    return {"texture_distance": distance, "texture_halves": halves,
            "texture_ratio": distance / halves if halves > 0 else math.nan}


def plan_copies(segments: np.ndarray, hop: int, sr: int) -> dict[str, float]:
    """Longest and time-weighted p95 run of consecutive style frames, in seconds.

    Examples
    --------
    >>> plan_copies(np.array([5, 6, 7, 1, 9, 10]), 250, 1000)
    {'plan_copy_max': 0.75, 'plan_copy_p95': 0.75}
    """
    segments = np.asarray(segments)
    if segments.size == 0:
        return {"plan_copy_max": 0.0, "plan_copy_p95": 0.0}
    breaks = np.flatnonzero(np.diff(segments) != 1) + 1
    lengths = np.diff(np.concatenate([[0], breaks, [segments.size]]))
    per_frame = np.repeat(lengths, lengths)
    seconds = hop / sr
    return {"plan_copy_max": float(lengths.max() * seconds),
            "plan_copy_p95": float(np.percentile(per_frame, 95) * seconds)}


def wave_copies(output: np.ndarray, style: np.ndarray, sr: int) -> dict[str, float]:
    """Longest and time-weighted p95 verbatim stretch of the style in the output, in
    seconds, from the waveforms alone (see the module)."""
    from scipy.spatial import cKDTree

    x, y = _mono(output, sr), _mono(style, sr)
    block = round(BLOCK_SECONDS * SR)
    step = block // 8
    if x.size < block or y.size < block + 2 * step:
        raise ParameterError("output and style must each be longer than 50 ms")
    n_blocks = x.size // block
    starts = np.arange(n_blocks) * block
    blocks = x[: n_blocks * block].reshape(n_blocks, block)
    grid = np.arange(0, y.size - block + 1, step)
    style_desc = _descriptors(y, grid, block)
    out_desc = _descriptors(x, starts, block)
    centre = style_desc.mean(axis=0)
    _, _, vt = np.linalg.svd(style_desc - centre, full_matrices=False)
    basis = vt[:DESCRIPTOR_DIMS].T
    tree = cKDTree((style_desc - centre) @ basis)
    k = min(NEIGHBOURS, grid.size)
    _, nearest = tree.query((out_desc - centre) @ basis, k=k)
    positions = grid[np.asarray(nearest).reshape(n_blocks, k)]
    _best_ncc, best_offset, matched = _check(blocks, starts, y, positions, step)
    # Check, for every block, the offsets its neighbours matched at (a stretch continues).
    around = []
    for shift in (1, -1):
        offset = np.roll(best_offset, shift)
        around.append(np.clip(starts + offset, 0, y.size - block))
    _ncc2, _offset2, matched2 = _check(blocks, starts, y, np.stack(around, axis=1), step)
    rms = float(np.sqrt(np.mean(x**2)))
    loud = np.sqrt(np.mean(blocks**2, axis=1)) >= rms * 10 ** (-QUIET_DB / 20)
    sets = [{o for o in (*matched[b], *matched2[b])} if loud[b] else set()
            for b in range(n_blocks)]
    lengths = np.zeros(n_blocks, dtype=np.int64)  # the stretch each block ends
    runs: dict[int, int] = {}
    for b, offsets in enumerate(sets):
        current = {}
        for o in offsets:
            previous = max(runs.get(o + d, 0) for d in range(-OFFSET_TOLERANCE,
                                                                OFFSET_TOLERANCE + 1))
            current[o] = previous + 1
        runs = current
        lengths[b] = max(current.values(), default=0)
    per_block = _stretch_of_each_block(lengths)
    seconds = block / SR
    return {"wave_copy_max": float(per_block.max() * seconds) if n_blocks else 0.0,
            "wave_copy_p95": float(np.percentile(per_block, 95) * seconds) if n_blocks else 0.0}


def state_divergence(output_labels: np.ndarray, style_labels: np.ndarray,
                     n_states: int) -> dict[str, float]:
    """JS divergence (bits) of state unigram and bigram frequencies, output vs style.

    Examples
    --------
    >>> labels = np.array([0, 1, 0, 1, 1, 0])
    >>> state_divergence(labels, labels, 2)
    {'state_js_unigram': 0.0, 'state_js_bigram': 0.0}
    """
    def frequencies(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uni = np.bincount(labels, minlength=n_states).astype(float)
        bi = np.bincount(labels[:-1] * n_states + labels[1:],
                         minlength=n_states * n_states).astype(float)
        return uni / max(uni.sum(), 1), bi / max(bi.sum(), 1)

    (p1, p2), (q1, q2) = frequencies(np.asarray(output_labels)), frequencies(
        np.asarray(style_labels))
    return {"state_js_unigram": _js(p1, q1), "state_js_bigram": _js(p2, q2)}


def seed_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two outputs' mono mixes over their common length.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> abs(seed_correlation(rng.standard_normal(1000), rng.standard_normal(1000))) < 0.1
    True
    """
    x, y = _two_d(a).mean(axis=0), _two_d(b).mean(axis=0)
    n = min(x.size, y.size)
    x, y = x[:n] - x[:n].mean(), y[:n] - y[:n].mean()
    norm = math.sqrt(float(x @ x) * float(y @ y))
    return float(x @ y) / norm if norm > 0 else math.nan


#: The measures of `evaluate_synth`, in display order, with their format and meaning.
SYNTH_TABLE: dict[str, tuple[str, str]] = {
    "texture_distance": (".4g", "texture-statistics distance, output vs style (5 s windows)"),
    "texture_halves": (".4g", "the same between the style's halves (or style and reference)"),
    "texture_ratio": (".3f", "distance / halves' distance (1: as close as the style "
                      "to itself)"),
    "plan_copy_max": (".3f", "s, longest run of consecutive style frames in the plan"),
    "plan_copy_p95": (".3f", "s, 95 % of the time lies in plan runs no longer than this"),
    "wave_copy_max": (".3f", "s, longest waveform stretch matching the style (NCC >= 0.95)"),
    "wave_copy_p95": (".3f", "s, 95 % of the time lies in matching stretches no longer"),
    "state_js_unigram": (".4f", "JS divergence (bits) of state frequencies, output vs style"),
    "state_js_bigram": (".4f", "JS divergence (bits) of state-pair frequencies"),
    "seed_correlation": (".4f", "correlation of the output with the other output"),
}


def evaluate_synth(output: np.ndarray, style: np.ndarray, sr: int, *,
                   reference: np.ndarray | None = None, segments: np.ndarray | None = None,
                   hop: int = 1024, other: np.ndarray | None = None,
                   model: object | None = None, window: float = WINDOW_SECONDS,
                   ) -> dict[str, float]:
    """Every measure of a synthesis (see the module); NaN where an input is missing.

    ``output``, ``style``, ``reference`` and ``other`` are audio at ``sr``; ``segments``
    and ``hop`` the plan's; ``model`` a `StyleModel` of the style at ``sr`` (learnt here
    with the default settings when None).
    """
    from .analysis import analyse
    from .model import StyleModel
    from .settings import Settings
    from .transfer import learn

    metrics = dict.fromkeys(SYNTH_TABLE, math.nan)
    metrics.update(texture_measures(output, style, sr, reference=reference, window=window))
    if segments is not None:
        metrics.update(plan_copies(segments, hop, sr))
    metrics.update(wave_copies(output, style, sr))
    if model is None:
        model = learn([(_two_d(style), sr)], sr=sr, settings=Settings())
    assert isinstance(model, StyleModel)

    def labels(y: np.ndarray) -> np.ndarray:
        y = _two_d(y).astype(np.float32)
        if y.shape[1] < model.hop_:
            return np.zeros(0, dtype=np.int64)
        a = analyse(y, sr, wavelet=model.wavelet_, level=model.level_, hop=model.hop_,
                    bands_per_octave=model.bands_per_octave_)
        return np.asarray(model.posteriors(a.features()).argmax(axis=1))

    metrics.update(state_divergence(labels(output), labels(style), model.n_states_))
    if other is not None:
        metrics["seed_correlation"] = seed_correlation(output, other)
    return metrics


def evaluate_synth_files(style: str | os.PathLike[str], output: str | os.PathLike[str], *,
                         reference: str | os.PathLike[str] | None = None,
                         plan: str | os.PathLike[str] | None = None,
                         other: str | os.PathLike[str] | None = None) -> dict[str, float]:
    """`evaluate_synth` for files: the style (audio, or a learnt ``.npz`` with its audio,
    whose model labels the states), the output, and optionally the held-back reference,
    the plan (``synth --save-plan``) and a second output.

    Examples
    --------
    >>> print(format_synth_report(evaluate_synth_files("rain.wav", "out.wav")))  # doctest: +SKIP
    """
    from .audio import load
    from .model import StyleModel
    from .plan import RenderPlan
    from .segments import is_corpus

    model = None
    if str(style).lower().endswith(".npz"):
        model, tracks = StyleModel.load(style)
        if not tracks and is_corpus(model):  # an index of files: their audio, read back
            from .files import _indexed_audio

            tracks = [track for track, _ in _indexed_audio(model, str(style))]
        if not tracks:
            raise ParameterError(f"{style}: holds no audio (learnt with --no-audio): give "
                                 "the style's audio")
        sr = model.sr_
        y = np.concatenate(tracks, axis=1)
    else:
        y, sr = load(style)
    out, _ = load(output, sr=sr)
    ref = load(reference, sr=sr)[0] if reference is not None else None
    second = load(other, sr=sr)[0] if other is not None else None
    segments, hop = None, 1024
    if plan is not None:
        loaded = RenderPlan.load(plan)
        segments, hop = loaded.segments, loaded.hop
        sr_plan = loaded.sr
        if sr_plan != sr:
            raise ParameterError(f"{plan}: is a plan at {sr_plan} Hz, the style is at {sr} Hz")
    return evaluate_synth(out, y, sr, reference=ref, segments=segments, hop=hop,
                          other=second, model=model)


def format_synth_report(metrics: dict[str, float]) -> str:
    """Aligned lines, one per measure: name, value and meaning (NaN shows as ``n/a``).

    Examples
    --------
    >>> print(format_synth_report({"texture_ratio": 1.05, "seed_correlation": math.nan}))
    texture_ratio      1.050   distance / halves' distance (1: as close as the style to itself)
    seed_correlation   n/a     correlation of the output with the other output
    """
    keys = [k for k in SYNTH_TABLE if k in metrics]
    shown = [(k, "n/a" if math.isnan(metrics[k]) else f"{metrics[k]:{SYNTH_TABLE[k][0]}}")
             for k in keys]
    if not shown:
        return ""
    width, value_width = max(len(k) for k, _ in shown), max(len(v) for _, v in shown)
    return "\n".join(f"{k:<{width}}   {v:<{value_width}}   {SYNTH_TABLE[k][1]}"
                     for k, v in shown)


def _check(blocks: np.ndarray, starts: np.ndarray, y: np.ndarray, positions: np.ndarray,
           step: int) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    """Exact NCC of each block at every lag within ``step`` of each of its ``positions``.

    Returns each block's best NCC and its offset (style position - block start), and the
    offsets at which it matches (NCC >= `MATCH_NCC`), one per position checked.
    """
    n_blocks, block = blocks.shape
    span = block + 2 * step
    n_fft = 1 << math.ceil(math.log2(span))
    low = np.clip(positions - step, 0, y.size - span)
    centred = blocks - blocks.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(centred, axis=1)
    spectrum = np.conj(np.fft.rfft(centred, n=n_fft))
    windows = np.lib.stride_tricks.sliding_window_view(y, span)
    squares = np.concatenate([[0.0], np.cumsum(y * y)])
    sums = np.concatenate([[0.0], np.cumsum(y)])
    best = np.full(n_blocks, -1.0)
    best_offset = np.zeros(n_blocks, dtype=np.int64)
    matched: list[list[int]] = [[] for _ in range(n_blocks)]
    lags = np.arange(2 * step + 1)
    for column in range(positions.shape[1]):
        seg = windows[low[:, column]]
        corr = np.fft.irfft(np.fft.rfft(seg, n=n_fft) * spectrum, n=n_fft)[:, : lags.size]
        first = low[:, column][:, None] + lags[None, :]
        energy = (squares[first + block] - squares[first]
                  - (sums[first + block] - sums[first]) ** 2 / block)
        denominator = np.sqrt(np.maximum(energy, 0.0)) * norms[:, None]
        ncc = np.divide(corr, denominator, out=np.zeros_like(corr), where=denominator > 1e-12)
        top = ncc.argmax(axis=1)
        value = ncc[np.arange(n_blocks), top]
        better = value > best
        best[better] = value[better]
        best_offset[better] = (first[np.arange(n_blocks), top] - starts)[better]
        for b in np.flatnonzero(value >= MATCH_NCC):
            matched[b].append(int(first[b, top[b]] - starts[b]))
    return best, best_offset, matched


def _descriptors(y: np.ndarray, starts: np.ndarray, block: int) -> np.ndarray:
    """Unit-length log band powers (Hann window) of the blocks of ``y`` at ``starts``."""
    n_fft = 1 << math.ceil(math.log2(block))
    edges = np.unique(np.round(np.geomspace(2, n_fft // 2 + 1, DESCRIPTOR_BANDS + 1)).astype(int))
    window = np.hanning(block)
    out = np.empty((starts.size, edges.size - 1))
    frames = np.lib.stride_tricks.sliding_window_view(y, block)
    for part in range(0, starts.size, 4096):
        chosen = frames[starts[part: part + 4096]]
        chosen = chosen - chosen.mean(axis=1, keepdims=True)
        power = np.abs(np.fft.rfft(chosen * window, n=n_fft)) ** 2
        cumulative = np.concatenate([np.zeros((power.shape[0], 1)), np.cumsum(power, axis=1)],
                                    axis=1)
        bands = cumulative[:, edges[1:]] - cumulative[:, edges[:-1]]
        total = bands.sum(axis=1, keepdims=True)
        out[part: part + 4096] = np.log(bands + 1e-6 * total + 1e-30)
    out -= out.mean(axis=1, keepdims=True)
    return np.asarray(out / (np.linalg.norm(out, axis=1, keepdims=True) + 1e-12))


def _stretch_of_each_block(ends: np.ndarray) -> np.ndarray:
    """From the run length each block ends (0: none), the length of the run each block
    lies in (a run of n ending at b covers b - n + 1 .. b)."""
    out = np.zeros_like(ends)
    b = ends.size - 1
    while b >= 0:
        n = int(ends[b])
        if n > 0 and (b == ends.size - 1 or ends[b + 1] != n + 1):
            out[b - n + 1: b + 1] = np.maximum(out[b - n + 1: b + 1], n)
        b -= 1
    return out


def _js(p: np.ndarray, q: np.ndarray) -> float:
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        keep = a > 0
        return float(np.sum(a[keep] * np.log2(a[keep] / m[keep])))

    return max(0.0, 0.5 * kl(p) + 0.5 * kl(q))


def _mono(y: np.ndarray, sr: int) -> np.ndarray:
    return np.asarray(resample(_two_d(y).astype(np.float64).mean(axis=0), sr, SR))


def _two_d(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y)
    return y[None, :] if y.ndim == 1 else y
