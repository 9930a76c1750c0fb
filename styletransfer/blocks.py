"""Block-wise wavelet analysis and rendering whose seams are exact.

The whole-file transform (`analysis.decompose`) is periodic: the content, padded to whole
frames, is taken as one period of a periodic signal. A block of frames, read with margins
on both sides (across the file's ends, the samples of the other end), is transformed on
its own; where the margins are wide enough for the filters of every level, the block's
coefficients equal the whole file's in its core, and so do the samples rendered from them.
`BlockGrid` says how wide the margins must be and which blocks a file has; the functions
here compute one block of what `analysis.analyse` and `engine_numpy.render` compute for a
whole file, operation for operation, so that results agree to rounding.

Examples
--------
>>> grid = BlockGrid(n_samples=100_000, hop=512, level=6, wavelet="db4", block_frames=64)
>>> grid.n_frames, grid.margin, len(grid.blocks())
(196, 1, 4)
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
import pywt

from .analysis import band_sizes, decompose, packet_depths, synthesise
from .engine_numpy import crossfade_window
from .plan import RenderPlan

#: Blocks worked on at once (see `in_order`); `one_block_at_a_time` sets it to 1.
WORKERS = max(1, min(2, os.cpu_count() or 1))
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class SampleReader(Protocol):
    """What block passes read from: a track's samples, any range of them."""

    sr: int
    n_channels: int
    n_samples: int

    def read(self, start: int, stop: int) -> np.ndarray:
        """``(n_channels, stop - start)`` float32 samples, ``0 <= start <= stop <= n_samples``."""
        ...


@dataclass(frozen=True)
class BlockGrid:
    """Blocks of whole frames covering a track, and the margins that make their seams exact.

    Attributes
    ----------
    n_samples, hop, level : int
        Track length and the analysis grid.
    wavelet : str
        The wavelet (its filter length sets the margins).
    block_frames : int
        Frames per block (the last block may be shorter).
    bands_per_octave : int
        Packet splits (deeper trees need wider margins).
    """

    n_samples: int
    hop: int
    level: int
    wavelet: str
    block_frames: int
    bands_per_octave: int = 1

    @property
    def n_frames(self) -> int:
        return -(-self.n_samples // self.hop)

    @property
    def period(self) -> int:
        """Length of the padded track: the period of the transform."""
        return self.n_frames * self.hop

    @property
    def margin(self) -> int:
        """Frames read on each side of a block for a rendering (0 when one block covers
        the track).

        A coefficient at the deepest stride ``2**D`` depends on a span of fewer than ``(F
        - 1) * 2**D`` samples, F being the filter length; the periodized transform centres
        that span on the coefficient, so half of it lies on each side. A rendered sample
        depends on the coefficients as far around it: one whole span on each side, plus 16
        samples (the sample shifts of cycle spinning are read on top of the margin).
        """
        return self._frames_around(2)

    @property
    def analysis_margin(self) -> int:
        """Frames read on each side of a block whose coefficients are only measured, never
        synthesised: half of a span (see `margin`), plus 16 samples."""
        return self._frames_around(1)

    def _frames_around(self, half_spans: int) -> int:
        if len(self.blocks()) == 1:
            return 0
        filter_length = pywt.Wavelet(self.wavelet).dec_len
        depths = packet_depths(self.hop, self.level, self.bands_per_octave)
        deepest = max(self.level, *(j + d for j, d in zip(range(self.level, 0, -1),
                                                            depths[1:], strict=True)))
        samples = half_spans * (filter_length - 1) * 2 ** (deepest - 1) + 16
        return -(-samples // self.hop)

    def blocks(self) -> list[tuple[int, int]]:
        """``(first frame, end frame)`` of every block."""
        step = max(1, int(self.block_frames))
        return [(f, min(f + step, self.n_frames)) for f in range(0, self.n_frames, step)]


class PeriodicSignal:
    """The padded track as one period of a periodic signal, read from a `SampleReader`.

    Samples past the end mirror the last ones (as `analysis.decompose` pads); indices
    wrap around the period. Reads are scaled by ``2**exponent`` (exact).

    Examples
    --------
    >>> from styletransfer.stream import ArrayReader
    >>> y = np.arange(5, dtype=np.float32)[None, :]
    >>> PeriodicSignal(ArrayReader(y, 8000), hop=4).take(-2, 9).tolist()
    [[3.0, 2.0, 0.0, 1.0, 2.0, 3.0, 4.0, 4.0, 3.0, 2.0, 0.0]]
    """

    def __init__(self, reader: SampleReader, hop: int, exponent: int = 0) -> None:
        self.reader, self.hop, self.exponent = reader, int(hop), int(exponent)
        n = reader.n_samples
        self.period = -(-n // self.hop) * self.hop
        pad = self.period - n
        self._pad = (np.ascontiguousarray(reader.read(n - pad, n)[:, ::-1]) if pad
                     else np.zeros((reader.n_channels, 0), dtype=np.float32))

    def take(self, start: int, stop: int) -> np.ndarray:
        """``(n_channels, stop - start)`` samples of the periodic signal, any indices."""
        n = self.reader.n_samples
        out = np.empty((self.reader.n_channels, stop - start), dtype=np.float32)
        i = start
        while i < stop:
            p = i % self.period
            run = min(stop - i, self.period - p)
            real = max(0, min(p + run, n) - p)
            if real:
                out[:, i - start: i - start + real] = self.reader.read(p, p + real)
            if run > real:
                q = max(p, n) - n
                out[:, i - start + real: i - start + run] = self._pad[:, q: q + run - real]
            i += run
        if self.exponent:
            np.ldexp(out, self.exponent, out=out)
        return out


def frame_indices(first: int, end: int, margin: int, n_frames: int) -> np.ndarray:
    """Frame numbers of a block with its margins, wrapped into ``0..n_frames - 1``.

    Examples
    --------
    >>> frame_indices(0, 2, 2, 5).tolist()
    [3, 4, 0, 1, 2, 3]
    """
    return np.arange(first - margin, end + margin) % n_frames


def block_bands(signal: np.ndarray, plan: RenderPlan | GridSettings) -> list[np.ndarray]:
    """Wavelet bands of a block of whole frames (margins included)."""
    return decompose(signal, wavelet=plan.wavelet, level=plan.level, hop=plan.hop,
                     bands_per_octave=plan.bands_per_octave)


@dataclass(frozen=True)
class GridSettings:
    """The analysis grid of a track: wavelet, depth, hop and packet splits."""

    wavelet: str
    level: int
    hop: int
    bands_per_octave: int = 1


@dataclass
class FrameStats:
    """Frame features of a track, gathered block by block (see `block_frame_stats`).

    ``energy`` as `Analysis.energy`; ``peak`` and ``mean`` the largest and mean
    coefficient power of each band in each frame (float32), ``totals`` the sum of all
    coefficient powers of each band (for the floor of `Analysis.crest`).
    """

    energy: np.ndarray
    peak: np.ndarray
    mean: np.ndarray
    totals: np.ndarray

    @classmethod
    def empty(cls, n_frames: int, n_bands: int) -> FrameStats:
        return cls(energy=np.zeros((n_frames, n_bands)),
                   peak=np.zeros((n_frames, n_bands), dtype=np.float32),
                   mean=np.zeros((n_frames, n_bands), dtype=np.float32),
                   totals=np.zeros(n_bands))

    def put(self, first: int, block: FrameStats) -> None:
        """Take in ``block``, the stats of the frames from ``first`` on."""
        rows = slice(first, first + block.energy.shape[0])
        self.energy[rows], self.peak[rows], self.mean[rows] = (block.energy, block.peak,
                                                               block.mean)
        self.totals += block.totals

    def crest(self, sizes: list[int]) -> np.ndarray:
        """``(n_frames, n_bands)`` log crest factors, as `analysis.analyse` computes them."""
        n_frames = self.energy.shape[0]
        columns = []
        for b, m in enumerate(sizes):
            if m == 1:
                columns.append(np.zeros(n_frames))
                continue
            floor = max(float(self.totals[b]) / (n_frames * m) * _ENERGY_FLOOR, 1e-30)
            columns.append(np.log(self.peak[:, b] + floor) - np.log(self.mean[:, b] + floor))
        return np.stack(columns, axis=1).astype(np.float64)


_ENERGY_FLOOR = 1e-8  # analysis.ENERGY_FLOOR


def block_frame_stats(bands: list[np.ndarray], sizes: list[int], margin: int,
                      count: int) -> FrameStats:
    """The frame features of the ``count`` core frames of a block (see `FrameStats`)."""
    stats = FrameStats.empty(count, len(sizes))
    for b, (band, m) in enumerate(zip(bands, sizes, strict=True)):
        core = band[:, margin * m: (margin + count) * m]
        power = np.einsum("cn,cn->n", core, core).reshape(count, m)
        stats.energy[:, b] = power.sum(axis=1, dtype=np.float64)
        stats.peak[:, b] = power.max(axis=1)
        stats.mean[:, b] = power.mean(axis=1)
        stats.totals[b] = float(power.sum(dtype=np.float64))
    return stats


def gain_curve_at(frame_gains: np.ndarray, frames: np.ndarray, per_frame: int) -> np.ndarray:
    """`engine_numpy.gain_curve` of the whole track, for the frames ``frames`` only.

    Examples
    --------
    >>> from styletransfer.engine_numpy import gain_curve
    >>> g = np.array([1.0, 3.0, 2.0])
    >>> bool(np.array_equal(gain_curve_at(g, np.array([2, 0]), 2),
    ...                     gain_curve(g, 2).reshape(3, 2)[[2, 0]].ravel()))
    True
    """
    last = frame_gains.shape[0] - 1
    gains = frame_gains[frames]
    before = gains - frame_gains[np.maximum(frames - 1, 0)]
    after = frame_gains[np.minimum(frames + 1, last)] - gains
    offsets = (np.arange(per_frame) + 0.5) / per_frame - 0.5
    half = per_frame // 2
    curve = np.empty((frames.shape[0], per_frame), dtype=frame_gains.dtype)
    curve[:, :half] = gains[:, None] + offsets[:half] * before[:, None]
    curve[:, half:] = gains[:, None] + offsets[half:] * after[:, None]
    return curve.ravel()


def render_timbre_block(signal: np.ndarray, plan: RenderPlan, frames: np.ndarray,
                        margin: int, count: int,
                        unshifted: list[np.ndarray] | None = None) -> np.ndarray:
    """The ``count`` core frames of a timbre (or identity) rendering of a block.

    ``signal`` is the periodic signal over the block's frames with margins, plus
    ``plan.shifts - 1`` samples before them; ``frames`` the block's frame numbers
    (`frame_indices`). Each shift renders the signal rotated as `engine_numpy` does.
    ``unshifted``, the bands of the unrotated signal over ``frames`` (their core
    coefficients exact, as a `coefficient_store.CoefficientStore` keeps them), spares
    their transform.
    """
    sizes = band_sizes(plan.hop, plan.level, plan.bands_per_octave)
    length = frames.size * plan.hop
    extra = plan.shifts - 1

    def coeffs(shift: int) -> list[np.ndarray]:
        bands = (unshifted if shift == 0 and unshifted is not None
                 else block_bands(signal[:, extra - shift: extra - shift + length], plan))
        return [band * gain_curve_at(plan.gains[:, b].astype(band.dtype), frames, m)[None, :]
                for b, (band, m) in enumerate(zip(bands, sizes, strict=True))]

    return _shifts_mean(plan, coeffs, length, margin, count)


class MosaicSource:
    """The style bands a mosaic plays, for every shift, padded as `engine_numpy` pads them."""

    def __init__(self, plan: RenderPlan, coeffs: list[np.ndarray], signal: np.ndarray) -> None:
        self.plan = plan
        self.sizes = band_sizes(plan.hop, plan.level, plan.bands_per_octave)
        self.padded: list[list[np.ndarray]] = []
        for shift in range(plan.shifts):
            bands = coeffs if shift == 0 else decompose(
                signal, wavelet=plan.wavelet, level=plan.level, hop=plan.hop, shift=shift,
                bands_per_octave=plan.bands_per_octave)
            self.padded.append([np.pad(band, ((0, 0), (m // 2, 2 * m)))
                                for band, m in zip(bands, self.sizes, strict=True)])


def render_mosaic_block(source: MosaicSource, frames: np.ndarray, margin: int,
                        count: int) -> np.ndarray:
    """The ``count`` core frames of a mosaic rendering of a block (before the envelope)."""
    plan = source.plan

    def coeffs(shift: int) -> list[np.ndarray]:
        return [np.concatenate([_overlap_add_run(padded, plan.segments, plan.gains[:, b], m,
                                                 first, end)
                                for first, end in _runs(frames)], axis=1)
                for b, (padded, m) in enumerate(zip(source.padded[shift], source.sizes,
                                                    strict=True))]

    return _shifts_mean(plan, coeffs, frames.size * plan.hop, margin, count)


def _shifts_mean(plan: RenderPlan, coeffs: Callable[[int], list[np.ndarray]], length: int,
                 margin: int, count: int) -> np.ndarray:
    """The mean over the plan's shifts of the core of the block synthesised from
    ``coeffs(shift)`` (its bands on the transform rotated by ``shift``)."""
    depths = packet_depths(plan.hop, plan.level, plan.bands_per_octave)
    out: np.ndarray | None = None
    for shift in range(plan.shifts):
        rendered = synthesise(coeffs(shift), wavelet=plan.wavelet, n_samples=length,
                              depths=depths)
        core = _core(rendered, margin * plan.hop, count * plan.hop, shift)
        if out is None:
            out = np.array(core)
        else:
            out += core
    assert out is not None
    if plan.shifts > 1:
        out /= plan.shifts
    return out


def _core(rendered: np.ndarray, start: int, length: int, shift: int) -> np.ndarray:
    """The core of a block rendered on a transform rotated by ``shift``, rotated back (a
    block without margins is the whole period: it wraps, as `analysis.synthesise` does)."""
    if start == 0 and shift:
        return np.roll(rendered, -shift, axis=1)[:, :length]
    return rendered[:, start + shift: start + shift + length]


def _runs(frames: np.ndarray) -> Iterator[tuple[int, int]]:
    """Consecutive stretches ``(first, end)`` of ascending frame numbers."""
    breaks = np.flatnonzero(np.diff(frames) != 1) + 1
    for part in np.split(frames, breaks):
        yield int(part[0]), int(part[-1]) + 1


def _overlap_add_run(padded: np.ndarray, segments: np.ndarray, frame_gains: np.ndarray,
                     per_frame: int, first: int, end: int) -> np.ndarray:
    """Frames ``first..end - 1`` of `engine_numpy._overlap_add`, computed the same way."""
    m, half = per_frame, per_frame // 2
    n_frames = segments.size
    window = crossfade_window(m).astype(padded.dtype)
    gains = frame_gains.astype(padded.dtype)
    slots = np.arange(first, end + 1)  # output frames: each holds a head and a tail
    out = np.zeros((padded.shape[0], slots.size, m), dtype=padded.dtype)
    heads = slots < n_frames
    starts = segments[slots[heads]][:, None] * m + np.arange(m)[None, :]
    head = np.multiply(padded[:, starts], window[:m])
    head *= gains[slots[heads]][None, :, None]
    out[:, heads] = head
    tails = slots >= 1
    starts = segments[slots[tails] - 1][:, None] * m + np.arange(m)[None, :]
    tail = padded[:, starts + m] * window[m:]
    tail *= gains[slots[tails] - 1][None, :, None]
    out[:, tails] += tail
    return out.reshape(padded.shape[0], -1)[:, half: half + (end - first) * m]


def filtered_mean(total: float, head: np.ndarray, tail: np.ndarray, n: int, width: int) -> float:
    """Mean of ``uniform_filter1d(x, width, mode="nearest")`` from the sum of ``x``, its
    first and its last ``width`` values, without ``x`` itself.

    Examples
    --------
    >>> from scipy.ndimage import uniform_filter1d
    >>> x = np.random.default_rng(0).random(50)
    >>> a = filtered_mean(float(x.sum()), x[:7], x[-7:], 50, 7)
    >>> bool(np.isclose(a, uniform_filter1d(x, 7, mode="nearest").mean()))
    True
    """
    lead = width // 2
    prefix = np.concatenate([[0.0], np.cumsum(head, dtype=np.float64)])
    suffix = np.concatenate([[0.0], np.cumsum(tail[::-1], dtype=np.float64)])
    acc = 0.0
    for t in range(width):
        d = t - lead
        if d >= 0:
            acc += total - prefix[d] + d * float(tail[-1])
        else:
            acc += total - suffix[-d] + (-d) * float(head[0])
    return acc / (width * n)


def one_block_at_a_time() -> None:
    """Work on one block at a time in this process (and one style copy at a time): for
    the worker processes of a batch, which already fill the cores one content each."""
    global WORKERS
    WORKERS = 1


def in_order(work: Callable[[_Item], _Result], items: Sequence[_Item]) -> Iterator[_Result]:
    """``work(item)`` for every item, `WORKERS` at a time in threads (numpy and PyWavelets
    release the GIL), the results in the items' order: deterministic, and no more than
    ``WORKERS + 1`` blocks in memory at once.

    Examples
    --------
    >>> list(in_order(lambda x: x * x, [1, 2, 3]))
    [1, 4, 9]
    """
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        pending: deque[Future[_Result]] = deque()
        try:
            for item in items:
                if len(pending) >= WORKERS:
                    yield pending.popleft().result()
                pending.append(pool.submit(work, item))
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def track_blocks(periodic: PeriodicSignal, n_samples: int, hop: int,
           blocks: int) -> Iterator[np.ndarray]:
    """The track's own samples (scaled), block by block."""
    step = blocks * hop
    for start in range(0, n_samples, step):
        yield periodic.take(start, min(start + step, n_samples))
