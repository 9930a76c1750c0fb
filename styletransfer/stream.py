"""Long content in bounded memory: the transfer in passes over blocks of the content.

1. **Features** (`content_features`): the content is read in blocks (`BLOCK_SECONDS` by
   default; `WORKERS` blocks at a time, in threads), each with margins
   (`blocks.BlockGrid`), checked as `audio.check_audio` checks whole tracks, and its frame
   features kept: band energies and crest factors, and the chroma where the plan matches
   pitch. These are small (frames x bands).
2. **Planning** works on the features exactly as on a whole analysis.
3. **Rendering** (`render_to_file`): each block is analysed and rendered with its
   margins, and its core written to a float32 scratch file beside the output; the
   result's checks (finite, not constant) and its peak are gathered on the way.
4. **Writing**: a last pass applies the mosaic envelope and the normalisation gain and
   writes the output into its temporary file, which `atomic.atomic_targets` puts in place.

Every block's core equals the whole-file rendering to rounding, so the output does too,
whatever the block size; one block is the whole-file path itself.

Examples
--------
>>> y = np.random.default_rng(0).standard_normal((1, 30000)).astype(np.float32)
>>> reader = ArrayReader(y, 22050)
>>> reader.read(5, 8).shape
(1, 3)
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

import numpy as np
import soundfile as sf

from . import audio
from .analysis import Analysis, band_sizes, check_bands_per_octave
from .blocks import (
    BlockGrid,
    FrameStats,
    GridSettings,
    MosaicSource,
    PeriodicSignal,
    SampleReader,
    block_bands,
    block_frame_stats,
    filtered_mean,
    frame_indices,
    render_mosaic_block,
    render_timbre_block,
)
from .engine_numpy import require_analysis
from .errors import EngineError, InternalError, ParameterError
from .model import StyleModel
from .paths import regular_file
from .plan import RenderPlan
from .segments import SegmentAnalysis
from .settings import Settings
from .stream_chroma import ChromaStream
from .transfer import (
    Progress,
    analysis_grid,
    needs_chroma,
    plan_from_analysis,
    prepared_settings,
)

#: Default block length, in seconds of content: memory grows with it, not with the track.
BLOCK_SECONDS = 10.0
#: Blocks worked on at once (see `in_order`).
WORKERS = max(1, min(2, os.cpu_count() or 1))
_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class ArrayReader:
    """A `blocks.SampleReader` over an array in memory (``(n_channels, n_samples)``)."""

    def __init__(self, y: np.ndarray, sr: int, name: str = "content") -> None:
        self.y = np.asarray(y, dtype=np.float32)
        self.sr, self.name = int(sr), name
        self.n_channels, self.n_samples = int(self.y.shape[0]), int(self.y.shape[1])

    def read(self, start: int, stop: int) -> np.ndarray:
        return self.y[:, start:stop]


class FileReader:
    """A `blocks.SampleReader` over an audio file, read by seeking: only what is asked for
    is ever in memory. Checks the file as `audio.read` does before any sample is read.

    Examples
    --------
    >>> with FileReader("song.flac") as reader:  # doctest: +SKIP
    ...     reader.read(0, 1024).shape
    (2, 1024)
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = regular_file(path)
        self.name = str(path)
        try:
            self._handle = sf.SoundFile(str(self.path))
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise self._unreadable(exc) from None
        self.sr, self.n_channels = int(self._handle.samplerate), int(self._handle.channels)
        self.n_samples = int(self._handle.frames)
        self._lock = threading.Lock()  # one handle, read from worker threads
        try:
            audio.check_rate(self.sr, name=self.name)
            if self.n_channels > audio.MAX_CHANNELS:
                raise ParameterError(f"{self.name}: has {self.n_channels} channels; at most "
                                     f"{audio.MAX_CHANNELS} are read: mix it down first")
        except ParameterError:
            self.close()
            raise

    def read(self, start: int, stop: int) -> np.ndarray:
        try:
            with self._lock:
                self._handle.seek(start)
                data = self._handle.read(stop - start, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            raise self._unreadable(exc) from None
        if data.shape[0] != stop - start:
            raise ParameterError(f"{self.name}: ends before its header says (sample "
                                 f"{start + data.shape[0]} of {self.n_samples}): repair or "
                                 "re-export the file")
        return np.ascontiguousarray(data.T)

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> FileReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _unreadable(self, exc: BaseException) -> ParameterError:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return ParameterError(f"{self.name}: not a readable audio file ({first}): use WAV, "
                              "FLAC, OGG, AIFF, AU or MP3")


def block_frames(sr: int, hop: int, seconds: float | None = None) -> int:
    """Frames per block for blocks of about ``seconds`` (default `BLOCK_SECONDS`).

    Examples
    --------
    >>> block_frames(44100, 1024)
    430
    """
    seconds = check_block_seconds(seconds)
    return max(1, int(seconds * sr) // hop)


def check_block_seconds(seconds: float | None) -> float:
    """``seconds`` (default `BLOCK_SECONDS`) if it is a usable block length, else raise
    `ParameterError`.

    Examples
    --------
    >>> check_block_seconds(None), check_block_seconds(5)
    (10.0, 5.0)
    """
    seconds = BLOCK_SECONDS if seconds is None else float(seconds)
    if not 0.001 <= seconds <= 3600:  # False for NaN too
        raise ParameterError(f"--block-seconds {seconds:g} is out of range: use a value "
                             "from 0.001 to 3600")
    return seconds


@dataclass(frozen=True)
class ContentFeatures:
    """What pass 1 found: the features-only analysis, the level exponent, the chroma."""

    analysis: Analysis
    exponent: int
    chroma: np.ndarray | None


def content_features(reader: SampleReader, grid: GridSettings, *, blocks: int,
                     chroma: bool = False, name: str = "content") -> ContentFeatures:
    """Pass 1: check the content and gather its frame features block by block.

    The returned `Analysis` holds energies and crest factors but no coefficients (its
    bands are empty) and no signal: enough for mapping and planning.
    """
    check_bands_per_octave(grid.bands_per_octave)
    if reader.n_samples < grid.hop:
        if reader.n_samples == 0 or reader.n_channels == 0:
            raise ParameterError(f"{name}: has no samples (zero length): "
                                 "give a file with audio in it")
        check_level(reader, name)
        raise ParameterError(
            f"{name}: {reader.n_samples} samples is shorter than one analysis frame "
            f"({grid.hop} samples = {1000 * grid.hop / reader.sr:.0f} ms): give a longer "
            "file or fewer --levels")
    stats, exponent = _feature_pass(reader, grid, blocks, 0, name)
    if stats is None:
        stats, _ = _feature_pass(reader, grid, blocks, exponent, name)
        assert stats is not None
    values = None
    if chroma:
        periodic = PeriodicSignal(reader, grid.hop, exponent)
        n_frames = stats.energy.shape[0]
        stream = ChromaStream(reader.sr, grid.hop, n_frames)
        level = stream.peak(_cores(periodic, reader.n_samples, grid.hop, blocks))
        values = stream.chroma(_cores(periodic, reader.n_samples, grid.hop, blocks), level)
    sizes = band_sizes(grid.hop, grid.level, grid.bands_per_octave)
    empty = [np.zeros((reader.n_channels, 0), dtype=np.float32) for _ in sizes]
    analysis = Analysis(coeffs=empty, sr=reader.sr, wavelet=grid.wavelet, level=grid.level,
                        hop=grid.hop, n_samples=reader.n_samples, energy=stats.energy,
                        crest=stats.crest(sizes),
                        signal=np.zeros((reader.n_channels, 0), dtype=np.float32),
                        bands_per_octave=grid.bands_per_octave)
    return ContentFeatures(analysis=analysis, exponent=exponent, chroma=values)


def check_level(reader: SampleReader, name: str, blocks: int = 1 << 20) -> int:
    """Check every sample as `audio.check_audio` does, block by block; returns the
    `audio.working_exponent` of the track."""
    level = _Level()
    for start in range(0, reader.n_samples, blocks):
        level.merge(_Level.of(reader.read(start, min(start + blocks, reader.n_samples)), name))
    return level.finish(name)


@dataclass
class _Level:
    """What `audio.check_audio` looks at, for a stretch of a track; stretches merge."""

    peak: float = 0.0
    first: np.ndarray | None = None  # (n_channels,) the first sample of each channel
    varies: np.ndarray | None = None  # (n_channels,) whether any other sample differs

    @classmethod
    def of(cls, y: np.ndarray, name: str) -> _Level:
        if not y.size:
            return cls()
        if not np.all(np.isfinite(y)):
            raise ParameterError(f"{name}: holds NaN or infinite samples: "
                                 "repair or re-export the file")
        first = y[:, 0].copy()
        return cls(float(np.max(np.abs(y))), first, np.any(y != first[:, None], axis=1))

    def merge(self, other: _Level) -> None:
        if other.first is None or other.varies is None:
            return
        if self.first is None or self.varies is None:
            self.first, self.varies = other.first, other.varies.copy()
        else:
            self.varies |= other.varies | (other.first != self.first)
        self.peak = max(self.peak, other.peak)

    def finish(self, name: str) -> int:
        if self.peak == 0.0:
            raise ParameterError(f"{name}: is silent (all samples are zero): "
                                 "give audio with sound in it")
        if self.varies is None or not np.any(self.varies):
            raise ParameterError(f"{name}: is constant (DC, every sample of a channel the "
                                 "same): give audio with sound in it")
        return audio.working_exponent(np.array([[self.peak]]))


def _feature_pass(reader: SampleReader, grid: GridSettings, blocks: int, exponent: int,
                  name: str) -> tuple[FrameStats | None, int]:
    """Frame features, and the level checks when ``exponent`` is 0. Features are given up
    (None) when the track turns out to need scaling: then the pass runs again, scaled."""
    shape = BlockGrid(reader.n_samples, grid.hop, grid.level, grid.wavelet, blocks,
                      grid.bands_per_octave)
    sizes = band_sizes(grid.hop, grid.level, grid.bands_per_octave)
    periodic = PeriodicSignal(reader, grid.hop, exponent)
    margin, hop = shape.margin, grid.hop
    loud = threading.Event()  # a block too loud to square unscaled: features are given up

    def work(block: tuple[int, int]) -> tuple[_Level | None, FrameStats | None]:
        first, end = block
        signal = periodic.take((first - margin) * hop, (end + margin) * hop)
        level = None
        if exponent == 0:
            core = signal[:, margin * hop: margin * hop + (end - first) * hop]
            level = _Level.of(core[:, : reader.n_samples - first * hop], name)
            if level.peak > 2.0**20:
                loud.set()
        if loud.is_set():
            return level, None
        return level, block_frame_stats(block_bands(signal, grid), sizes, margin, end - first)

    stats: FrameStats | None = FrameStats.empty(shape.n_frames, len(sizes))
    total = _Level()
    for (first, _), (level, found) in zip(shape.blocks(), in_order(work, shape.blocks()),
                                          strict=True):
        if level is not None:
            total.merge(level)
        if found is None or stats is None:
            stats = None
        else:
            stats.put(first, found)
    if exponent == 0:
        exponent = total.finish(name)
        if exponent != 0:
            stats = None
    return stats, exponent


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


def _cores(periodic: PeriodicSignal, n_samples: int, hop: int,
           blocks: int) -> Iterator[np.ndarray]:
    """The track's own samples (scaled), block by block."""
    step = blocks * hop
    for start in range(0, n_samples, step):
        yield periodic.take(start, min(start + step, n_samples))


@dataclass(frozen=True)
class Rendered:
    """A rendering in a scratch file: float32 samples interleaved, before the envelope
    (mosaic) and the normalisation; with what the last pass needs."""

    path: Path
    plan: RenderPlan
    exponent: int
    blocks: int
    enveloped: bool = False  # the engine has applied the mosaic envelope itself


def render_to_file(plan: RenderPlan, reader: SampleReader, scratch: Path, *,
                   exponent: int, blocks: int, style: Analysis | None = None) -> Rendered:
    """Render ``plan`` block by block from the content in ``reader`` (and the style, in
    memory, for a mosaic) into ``scratch`` (float32, interleaved)."""
    grid = BlockGrid(plan.n_samples, plan.hop, plan.level, plan.wavelet, blocks,
                     plan.bands_per_octave)
    margin, hop = grid.margin, plan.hop
    periodic = PeriodicSignal(reader, hop, exponent)
    source = None
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
            out = render_timbre_block(signal, plan, frames, margin, end - first)
        return out[:, : plan.n_samples - first * hop]

    with open(scratch, "wb") as handle:
        for out in in_order(work, grid.blocks()):
            _write_raw(handle, out)
    return Rendered(path=scratch, plan=plan, exponent=exponent, blocks=blocks)


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
            for y in _cores(periodic, n, plan.hop, blocks):
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
    envelope = plan.mode == "mosaic" and plan.envelope > 0 and not rendered.enveloped
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
    low, high, bad, first = np.inf, -np.inf, 0, 0.0
    for i, y in enumerate(finished_blocks(rendered, reader)):
        bad += int(y.size - np.count_nonzero(np.isfinite(y)))
        if bad:
            continue
        low, high = min(low, float(y.min())), max(high, float(y.max()))
        first = float(y.flat[0]) if i == 0 else first
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
    plan = rendered.plan
    fmt = "FLAC" if container.lower() == ".flac" else "WAV"
    try:
        with sf.SoundFile(str(path), "w", samplerate=plan.sr, channels=plan.n_channels,
                          subtype=subtype, format=fmt) as out:
            for y in finished_blocks(rendered, reader):
                out.write((y * gain if gain != 1.0 else y).T)
    except sf.LibsndfileError as exc:
        if audio.shutil.disk_usage(path.parent).free < 65536 + 4 * plan.n_channels * 4096:
            raise OSError(audio.errno.ENOSPC, os.strerror(audio.errno.ENOSPC),
                          str(path)) from None
        raise OSError(audio.errno.EIO, f"writing failed ({exc})", str(path)) from None
    return gain


def scratch_file(target: Path) -> Path:
    """An empty scratch file beside ``target``, named as `atomic` names its temporaries."""
    folder = target.parent if str(target.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=folder)
    os.close(fd)
    return Path(name)


def transfer_blocks(reader: SampleReader, styles: Sequence[tuple[np.ndarray, int]],
                    scratch: Path, *, settings: Settings | None = None,
                    model: StyleModel | None = None, progress: Progress | None = None,
                    sources: dict[str, object] | None = None, blocks: int | None = None,
                    name: str = "content", engine: str = "numpy",
                    keep_score: str | os.PathLike[str] | None = None) -> Rendered:
    """`transfer.transfer` in passes over blocks of the content: features, plan, and the
    rendering into ``scratch`` (see `finished_blocks` and `write_result` for the rest), by
    the numpy engine or by SuperCollider (``engine="sc"``, `render_nrt_to_file`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal((1, 44100)).astype(np.float32)
    >>> style = rng.standard_normal((1, 22050)).astype(np.float32)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     done = transfer_blocks(ArrayReader(y, 22050), [(style, 22050)],
    ...                            Path(folder) / "raw", settings=Settings(clusters=3))
    ...     out = np.concatenate(list(finished_blocks(done, ArrayReader(y, 22050))), axis=1)
    >>> out.shape
    (1, 44100)
    """
    settings = prepared_settings(settings, model)
    level, hop = analysis_grid(settings, reader.sr)
    step = block_frames(reader.sr, hop) if blocks is None else int(blocks)
    if progress is not None:
        progress("analysing content")
    grid = GridSettings(settings.wavelet, level, hop, settings.bands_per_octave)
    found = content_features(reader, grid, blocks=step, chroma=needs_chroma(settings),
                             name=name)
    plan, style = plan_from_analysis(found.analysis, styles, settings=settings, model=model,
                                     progress=progress, sources=sources,
                                     content_chroma=found.chroma)
    exponent = found.exponent
    del found  # the features are planned: the render needs none of them
    if progress is not None:
        progress("rendering")
    played = style.localise(plan) if isinstance(style, SegmentAnalysis) else plan
    if engine == "sc":
        rendered = render_nrt_to_file(played, reader, scratch, exponent=exponent,
                                      blocks=step, style=style, keep_score=keep_score)
    else:
        rendered = render_to_file(played, reader, scratch, exponent=exponent,
                                  blocks=step, style=style)
    return dataclasses.replace(rendered, plan=plan)  # a corpus plan counts corpus frames
