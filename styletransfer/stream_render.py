"""Rendering and writing in blocks: the second and last passes of `stream`.

`render_to_file` (numpy engine) and `render_nrt_to_file` (SuperCollider) render a plan
block by block into a float32 scratch file beside the output; `write_result` checks the
result as `audio.check_result` does, applies the mosaic envelope and the normalisation
gain block by block (`finished_blocks`), and writes the output.

Examples
--------
>>> scratch_file(Path("/tmp/song.wav")).name.startswith(".song.wav.")
True
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import soundfile as sf

from . import audio
from .analysis import Analysis
from .blocks import (
    BlockGrid,
    MosaicSource,
    PeriodicSignal,
    SampleReader,
    filtered_mean,
    frame_indices,
    in_order,
    render_mosaic_block,
    render_timbre_block,
    track_blocks,
)
from .coefficient_store import CoefficientStore
from .engine_numpy import require_analysis
from .errors import EngineError, InternalError, ParameterError
from .plan import RenderPlan

_Block = TypeVar("_Block")


@dataclass(frozen=True)
class Rendered:
    """A rendering in a scratch file: float32 samples interleaved, before the envelope
    (mosaic) and the normalisation; with what the last pass needs."""

    path: Path
    plan: RenderPlan
    exponent: int
    blocks: int
    enveloped: bool = False  # the engine has applied the mosaic envelope itself
    extremes: Extremes | None = None  # of the samples in the file, where they were counted

    @property
    def envelope_pending(self) -> bool:
        """Whether the last pass still gives a mosaic the content's envelope: the file's
        samples are then not yet the result's."""
        return self.plan.mode == "mosaic" and self.plan.envelope > 0 and not self.enveloped


@dataclass(frozen=True)
class Extremes:
    """What `write_result` checks of a result: its lowest and highest sample, how many are
    not finite, and its first sample.

    Examples
    --------
    >>> Extremes().add(np.array([[0.5, -2.0]])).add(np.array([[np.nan]]))
    Extremes(low=-2.0, high=0.5, bad=1, first=0.5)
    """

    low: float = np.inf
    high: float = -np.inf
    bad: int = 0
    first: float | None = None

    def add(self, y: np.ndarray) -> Extremes:
        """These extremes and those of the next stretch ``y``."""
        if not y.size:
            return self
        first = float(y.flat[0]) if self.first is None else self.first
        bad = self.bad + int(y.size - np.count_nonzero(np.isfinite(y)))
        if bad:  # no extremes of a broken result
            return Extremes(self.low, self.high, bad, first)
        return Extremes(min(self.low, float(y.min())), max(self.high, float(y.max())), bad,
                        first)

    def scaled(self, exponent: int) -> Extremes:
        """The extremes of the samples times ``2**exponent`` (exact, as each sample's)."""
        low, high = float(np.ldexp(self.low, exponent)), float(np.ldexp(self.high, exponent))
        first = None if self.first is None else float(np.ldexp(self.first, exponent))
        bad = self.bad + int(not np.isfinite(low)) + int(not np.isfinite(high))
        return Extremes(low, high, bad, first)


def render_to_file(plan: RenderPlan, reader: SampleReader, scratch: Path, *,
                   exponent: int, blocks: int, style: Analysis | None = None,
                   coefficients: CoefficientStore | None = None) -> Rendered:
    """Render ``plan`` block by block from the content in ``reader`` (and the style, in
    memory, for a mosaic) into ``scratch`` (float32, interleaved); a timbre rendering
    takes its unshifted coefficients from ``coefficients`` where it `serves` the plan.
    """
    grid = BlockGrid(plan.n_samples, plan.hop, plan.level, plan.wavelet, blocks,
                     plan.bands_per_octave)
    margin, hop = grid.margin, plan.hop
    periodic = PeriodicSignal(reader, hop, exponent)
    source = None
    if coefficients is not None and not coefficients.serves(plan, exponent):
        coefficients = None
    if plan.mode == "mosaic":
        style = require_analysis(style, plan, "style", frames=None)
        source = MosaicSource(plan, style.coeffs, style.signal)

    def work(block: tuple[int, int]) -> np.ndarray:
        first, end = block
        frames = frame_indices(first, end, margin, grid.n_frames)
        if source is not None:
            out = render_mosaic_block(source, frames, margin, end - first)
        else:
            extra = plan.shifts - 1
            signal = periodic.take((first - margin) * hop - extra, (end + margin) * hop)
            unshifted = None if coefficients is None else coefficients.bands(frames)
            out = render_timbre_block(signal, plan, frames, margin, end - first, unshifted)
        return out[:, : plan.n_samples - first * hop]

    extremes = Extremes()

    def rendered() -> Iterator[np.ndarray]:
        nonlocal extremes
        for out in in_order(work, grid.blocks()):
            samples = np.asarray(out, dtype=np.float32)  # as the file holds them
            extremes = extremes.add(samples)
            yield samples

    with open(scratch, "wb") as handle:
        write_behind(lambda samples: _write_raw(handle, samples), rendered())
    return Rendered(path=scratch, plan=plan, exponent=exponent, blocks=blocks,
                    extremes=extremes)


def render_nrt_to_file(plan: RenderPlan, reader: SampleReader, scratch: Path, *,
                       exponent: int, blocks: int, style: Analysis | None = None,
                       keep_score: str | os.PathLike[str] | None = None) -> Rendered:
    """`render_to_file` with SuperCollider (``scsynth -N``): the content's buffer file is
    written block by block, and the server's output read back so, into ``scratch``."""
    import soundfile as sf

    from .supercollider.nrt import nrt_output
    from .supercollider.score import PlanScore

    periodic = PeriodicSignal(reader, plan.hop, exponent)
    n, step = plan.n_samples, blocks * plan.hop

    def write_content(path: Path, score: PlanScore) -> None:
        with sf.SoundFile(str(path), "w", samplerate=plan.sr, channels=2, subtype="FLOAT",
                          format="WAV") as out:
            out.write(np.zeros((score.lead_samples, 2), dtype=np.float32))
            for y in track_blocks(periodic, n, plan.hop, blocks):
                out.write(np.ascontiguousarray((np.repeat(y, 2, axis=0) if y.shape[0] == 1
                                                else y).T))

    with nrt_output(plan, write_content, style, keep_score=keep_score) as (path, start):
        with sf.SoundFile(str(path)) as rendered, open(scratch, "wb") as handle:
            if rendered.samplerate != plan.sr or rendered.frames < start + n:
                raise EngineError(f"scsynth rendered {rendered.frames} samples at "
                                  f"{rendered.samplerate} Hz, expected {start + n} at "
                                  f"{plan.sr} Hz")
            rendered.seek(start)
            for first in range(0, n, step):
                data = rendered.read(min(step, n - first), dtype="float32", always_2d=True)
                _write_raw(handle, data[:, : plan.n_channels].T)
    return Rendered(path=scratch, plan=plan, exponent=exponent, blocks=blocks, enveloped=True)


def write_behind(write: Callable[[_Block], object], blocks: Iterable[_Block]) -> None:
    """``write(block)`` for every block in order, each in a thread while the next one is
    made (file writes release the GIL, and a write the system holds back stalls no
    computation), one block waiting at most.

    Examples
    --------
    >>> done = []
    >>> write_behind(done.append, (np.full(2, i) for i in range(3)))
    >>> [int(block[0]) for block in done]
    [0, 1, 2]
    """
    with ThreadPoolExecutor(max_workers=1) as writer:
        pending: Future[object] | None = None
        for block in blocks:
            if pending is not None:
                pending.result()
            pending = writer.submit(write, block)
        if pending is not None:
            pending.result()


def _write_raw(handle: BinaryIO, y: np.ndarray) -> None:
    handle.write(np.ascontiguousarray(y.T, dtype=np.float32).tobytes())


def _read_raw(handle: BinaryIO, n_channels: int, start: int, stop: int) -> np.ndarray:
    handle.seek(start * n_channels * 4)
    data = np.frombuffer(handle.read((stop - start) * n_channels * 4), dtype=np.float32)
    return np.ascontiguousarray(data.reshape(-1, n_channels).T)


def finished_blocks(rendered: Rendered, reader: SampleReader) -> Iterator[np.ndarray]:
    """The result, block by block, as the whole-file path returns it (envelope followed,
    scaled back), before normalisation."""
    plan = rendered.plan
    n, step = plan.n_samples, rendered.blocks * plan.hop
    envelope = rendered.envelope_pending
    width = max(1, plan.hop // 8)
    means = _envelope_means(rendered, reader, width) if envelope else (0.0, 0.0)
    periodic = PeriodicSignal(reader, plan.hop, rendered.exponent)
    with open(rendered.path, "rb") as handle:
        for start in range(0, n, step):
            stop = min(start + step, n)
            if not envelope:
                out = _read_raw(handle, plan.n_channels, start, stop)
            else:
                lo, hi = max(0, start - width), min(n, stop + width)
                out = _follow(_read_raw(handle, plan.n_channels, lo, hi),
                              periodic.take(lo, hi), width, plan.envelope, means)
                out = out[:, start - lo: stop - lo]
            if rendered.exponent:
                out = np.ldexp(out, -rendered.exponent)
            yield out


def _envelope_means(rendered: Rendered, reader: SampleReader,
                    width: int) -> tuple[float, float]:
    """Means of the filtered powers of the rendering and of the content over the track
    (`engine_numpy.follow_envelope` regularises with them)."""
    plan = rendered.plan
    n, step = plan.n_samples, rendered.blocks * plan.hop
    periodic = PeriodicSignal(reader, plan.hop, rendered.exponent)
    totals, heads, tails = [0.0, 0.0], [np.zeros(0), np.zeros(0)], [np.zeros(0), np.zeros(0)]
    with open(rendered.path, "rb") as handle:
        for start in range(0, n, step):
            stop = min(start + step, n)
            pair = (_read_raw(handle, plan.n_channels, start, stop), periodic.take(start, stop))
            for i, y in enumerate(pair):
                power = np.einsum("cn,cn->n", y, y).astype(np.float64)
                totals[i] += float(power.sum())
                if heads[i].size < width:
                    heads[i] = np.concatenate([heads[i], power[: width - heads[i].size]])
                tails[i] = np.concatenate([tails[i], power])[-width:]
    signal_mean, guide_mean = (filtered_mean(totals[i], heads[i], tails[i], n, width)
                               for i in range(2))
    return signal_mean, guide_mean


def _follow(signal: np.ndarray, guide: np.ndarray, width: int, amount: float,
            means: tuple[float, float]) -> np.ndarray:
    """`engine_numpy.follow_envelope` of a stretch, with the whole track's means."""
    from scipy.ndimage import uniform_filter1d

    power_signal = uniform_filter1d(np.einsum("cn,cn->n", signal, signal), width, mode="nearest")
    power_guide = uniform_filter1d(np.einsum("cn,cn->n", guide, guide), width, mode="nearest")
    ratio = ((power_guide + 1e-9 * means[1] + 1e-30)
             / (power_signal + 1e-9 * means[0] + 1e-30))
    np.minimum(ratio, 16.0, out=ratio)
    ratio **= amount / 2
    return np.asarray(signal * ratio)


def write_result(rendered: Rendered, reader: SampleReader, path: Path, *, subtype: str,
                 container: str) -> float:
    """Check the result (`audio.check_result`), find its normalisation gain, and write it
    to ``path`` block by block; returns the gain (see `audio.limit_peak`)."""
    plan = rendered.plan
    counted = rendered.extremes
    if counted is not None and not rendered.envelope_pending:
        extremes = counted.scaled(-rendered.exponent)  # the file's samples are the result's
    else:  # read the finished result once for its checks
        extremes = Extremes()
        for y in finished_blocks(rendered, reader):
            extremes = extremes.add(y)
    low, high, bad, first = extremes.low, extremes.high, extremes.bad, extremes.first or 0.0
    if bad:
        raise InternalError(f"the result holds {bad} NaN or infinite samples: nothing was "
                            "written")
    if low == high:
        raise InternalError(f"the result is constant ({first:g} in every sample): "
                            "nothing was written")
    peak = max(high, -low)
    gain = 1.0 if peak <= audio.PEAK_CEILING else audio.PEAK_CEILING / peak
    bits = audio.PCM_BITS.get(subtype)
    if bits is not None and gain == 1.0 and peak < 2.0**-bits:
        raise ParameterError(f"the result peaks at {20 * np.log10(peak):.0f} dBFS, below "
                             f"what {bits}-bit samples hold: nothing was written; use "
                             "--subtype float")
    fmt = "FLAC" if container.lower() == ".flac" else "WAV"
    try:
        with sf.SoundFile(str(path), "w", samplerate=plan.sr, channels=plan.n_channels,
                          subtype=subtype, format=fmt) as out:
            # libsndfile converts and writes one block while the next is read and scaled
            write_behind(out.write, (np.ascontiguousarray((y * gain if gain != 1.0 else y).T)
                                     for y in finished_blocks(rendered, reader)))
    except sf.LibsndfileError as exc:
        if audio.shutil.disk_usage(path.parent).free < 65536 + 4 * plan.n_channels * 4096:
            raise OSError(audio.errno.ENOSPC, os.strerror(audio.errno.ENOSPC),
                          str(path)) from None
        raise OSError(audio.errno.EIO, f"writing failed ({exc})", str(path)) from None
    return gain


#: Bytes a run leaves free on a disk beyond what it writes there.
SPARE_BYTES = 64 << 20
#: Bytes of a sample of each output format (a FLAC's size is not known before it is made).
_SAMPLE_BYTES = {"PCM_16": 2, "PCM_24": 3, "FLOAT": 4}


def check_room(target: Path, *, n_samples: int, n_channels: int, subtype: str) -> None:
    """Raise `ParameterError` unless the folder of ``target`` has room for what a streamed
    run writes there: its scratch file (four bytes a sample and channel) and, for a WAV,
    the output; so that a full disk is found before the work, not after it.

    Examples
    --------
    >>> check_room(Path("out.wav"), n_samples=44100, n_channels=2, subtype="PCM_24")
    """
    folder = target.parent if str(target.parent) else Path(".")
    output = 0 if target.suffix.lower() == ".flac" else _SAMPLE_BYTES.get(subtype, 4)
    needed = n_samples * n_channels * (4 + output) + SPARE_BYTES
    free = audio.shutil.disk_usage(folder).free
    if free < needed:
        raise ParameterError(
            f"{folder}: {free / 1e9:.2f} GB free, but the run writes about "
            f"{needed / 1e9:.2f} GB there (a scratch file of four bytes a sample, and the "
            "output): free some space or write the output to another disk")


def room_for_coefficients(n_samples: int, n_channels: int) -> bool:
    """Whether the temporary folder can keep a content's wavelet coefficients (four bytes
    a sample and channel, `coefficient_store`) with room to spare; where it cannot, the
    rendering transforms the blocks again.

    Examples
    --------
    >>> room_for_coefficients(0, 2)
    True
    """
    needed = n_samples * n_channels * 4 + SPARE_BYTES
    return bool(audio.shutil.disk_usage(tempfile.gettempdir()).free >= needed)


def scratch_file(target: Path) -> Path:
    """An empty scratch file beside ``target``, named as `atomic` names its temporaries."""
    folder = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    os.close(fd)
    return Path(name)
