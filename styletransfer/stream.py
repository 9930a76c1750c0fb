"""Long content in bounded memory: the transfer in passes over blocks of the content.

1. **Features** (`content_features`): the content is read in blocks (`BLOCK_SECONDS` by
   default; `blocks.WORKERS` blocks at a time, in threads), each with margins
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

import contextlib
import dataclasses
import os
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from . import audio
from .analysis import Analysis, band_sizes, check_bands_per_octave
from .blocks import (
    BlockGrid,
    FrameStats,
    GridSettings,
    PeriodicSignal,
    SampleReader,
    block_bands,
    block_frame_stats,
    in_order,
    track_blocks,
)
from .coefficient_store import CoefficientStore
from .errors import ParameterError
from .memory import release_freed
from .model import StyleModel
from .paths import regular_file
from .segments import SegmentAnalysis
from .settings import Settings, needs_chroma, needs_pitches
from .stream_chroma import ChromaStream
from .stream_render import (
    Rendered,
    render_nrt_to_file,
    render_to_file,
    room_for_coefficients,
    write_behind,
)
from .styles import prepare_style
from .transfer import (
    Progress,
    analysis_grid,
    plan_from_analysis,
    prepared_settings,
    style_names,
)

#: Default block length, in seconds of content: memory grows with it, not with the track.
BLOCK_SECONDS = 10.0


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
    """What pass 1 found: the features-only analysis, the level exponent, the chroma, and
    the coefficients where they were kept (the caller closes the store)."""

    analysis: Analysis
    exponent: int
    chroma: np.ndarray | None
    coefficients: CoefficientStore | None = None


def content_features(reader: SampleReader, grid: GridSettings, *, blocks: int,
                     chroma: bool = False, octaves: bool = False,
                     keep_coefficients: bool = False, name: str = "content") -> ContentFeatures:
    """Pass 1: check the content and gather its frame features block by block.

    The returned `Analysis` holds energies and crest factors but no coefficients (its
    bands are empty) and no signal: enough for mapping and planning. With ``chroma``, the
    content's `profiles.frame_chroma` is gathered too (with ``octaves``, its
    `profiles.frame_pitches`). With ``keep_coefficients``, the core coefficients of every
    block are kept for the rendering (`coefficient_store`).
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
    stop = threading.Event()  # the feature pass failed: the chroma is not wanted
    with ThreadPoolExecutor(max_workers=1) as side:
        # the chroma's passes read the track beside the feature pass, which leaves part of
        # a core idle; unscaled, as nearly every track is read (the chroma is relative to
        # the track's own peak, but a scaled track is read again to be sure of rounding)
        unscaled = (side.submit(_chroma, reader, grid.hop, blocks, 0, octaves, stop)
                    if chroma else None)
        try:
            stats, exponent, store = _feature_pass(reader, grid, blocks, 0, name,
                                                   keep_coefficients)
            if stats is None:
                stats, _, store = _feature_pass(reader, grid, blocks, exponent, name,
                                                keep_coefficients)
                assert stats is not None
        except BaseException:
            stop.set()
            raise
        values = None
        if unscaled is not None:
            try:
                values = (unscaled.result() if exponent == 0
                          else _chroma(reader, grid.hop, blocks, exponent, octaves))
            except BaseException:
                if store is not None:
                    store.close()
                raise
    sizes = band_sizes(grid.hop, grid.level, grid.bands_per_octave)
    empty = [np.zeros((reader.n_channels, 0), dtype=np.float32) for _ in sizes]
    analysis = Analysis(coeffs=empty, sr=reader.sr, wavelet=grid.wavelet, level=grid.level,
                        hop=grid.hop, n_samples=reader.n_samples, energy=stats.energy,
                        crest=stats.crest(sizes),
                        signal=np.zeros((reader.n_channels, 0), dtype=np.float32),
                        bands_per_octave=grid.bands_per_octave)
    return ContentFeatures(analysis=analysis, exponent=exponent, chroma=values,
                           coefficients=store)


def _chroma(reader: SampleReader, hop: int, blocks: int, exponent: int, octaves: bool,
            stop: threading.Event | None = None) -> np.ndarray:
    """`stream_chroma.ChromaStream.profiles` of the track scaled by ``2**exponent``; cut
    short (its value then unused) once ``stop`` is set."""
    periodic = PeriodicSignal(reader, hop, exponent)
    stream = ChromaStream(reader.sr, hop, -(-reader.n_samples // hop), octaves=octaves)

    def track() -> Iterator[np.ndarray]:
        for block in track_blocks(periodic, reader.n_samples, hop, blocks):
            if stop is not None and stop.is_set():
                return
            yield block

    return stream.profiles(track())


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
                  name: str, keep_coefficients: bool = False
                  ) -> tuple[FrameStats | None, int, CoefficientStore | None]:
    """Frame features, and the level checks when ``exponent`` is 0. Features are given up
    (None) when the track turns out to need scaling: then the pass runs again, scaled.
    With ``keep_coefficients``, the coefficients too (None when the features are)."""
    shape = BlockGrid(reader.n_samples, grid.hop, grid.level, grid.wavelet, blocks,
                      grid.bands_per_octave)
    sizes = band_sizes(grid.hop, grid.level, grid.bands_per_octave)
    periodic = PeriodicSignal(reader, grid.hop, exponent)
    margin, hop = shape.analysis_margin, grid.hop
    loud = threading.Event()  # a block too loud to square unscaled: features are given up
    store = (CoefficientStore(grid, n_channels=reader.n_channels, n_frames=shape.n_frames,
                              exponent=exponent) if keep_coefficients else None)

    def work(block: tuple[int, int]
             ) -> tuple[_Level | None, FrameStats | None, np.ndarray | None]:
        first, end = block
        signal = periodic.take((first - margin) * hop, (end + margin) * hop)
        level = None
        if exponent == 0:
            core = signal[:, margin * hop: margin * hop + (end - first) * hop]
            level = _Level.of(core[:, : reader.n_samples - first * hop], name)
            if level.peak > 2.0**20:
                loud.set()
        if loud.is_set():
            return level, None, None
        bands = block_bands(signal, grid)
        packed = None if store is None else store.pack(bands, margin=margin, count=end - first)
        return level, block_frame_stats(bands, sizes, margin, end - first), packed

    stats: FrameStats | None = FrameStats.empty(shape.n_frames, len(sizes))
    total = _Level()

    def gathered() -> Iterator[tuple[int, np.ndarray]]:
        nonlocal stats
        for (first, _), (level, found, packed) in zip(shape.blocks(),
                                                      in_order(work, shape.blocks()),
                                                      strict=True):
            if level is not None:
                total.merge(level)
            if found is None or stats is None:
                stats = None
            else:
                stats.put(first, found)
            if packed is not None:
                yield first, packed

    def keep(item: tuple[int, np.ndarray]) -> None:
        if store is not None:
            store.write(*item)

    try:
        # the coefficients are written in a thread: a write the system holds back stalls
        # neither the blocks' transforms nor the gathering
        write_behind(keep, gathered())
        if exponent == 0:
            exponent = total.finish(name)
            if exponent != 0:
                stats = None
    except BaseException:
        if store is not None:
            store.close()
        raise
    if stats is None and store is not None:
        store.close()
        store = None
    return stats, exponent, store


def transfer_blocks(reader: SampleReader, styles: Sequence[tuple[np.ndarray, int]],
                    scratch: Path, *, settings: Settings | None = None,
                    model: StyleModel | None = None, progress: Progress | None = None,
                    sources: dict[str, object] | None = None, blocks: int | None = None,
                    name: str = "content", engine: str = "numpy",
                    keep_score: str | os.PathLike[str] | None = None) -> Rendered:
    """`transfer.transfer` in passes over blocks of the content: features, plan, and the
    rendering into ``scratch`` (see `stream_render.finished_blocks` and
    `stream_render.write_result` for the rest), by
    the numpy engine or by SuperCollider (``engine="sc"``, `render_nrt_to_file`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.standard_normal((1, 44100)).astype(np.float32)
    >>> style = rng.standard_normal((1, 22050)).astype(np.float32)
    >>> import tempfile
    >>> from styletransfer.stream_render import finished_blocks
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
    with ThreadPoolExecutor(max_workers=1) as side:
        # the style's side of the plan needs nothing of the content but its grid: it is
        # prepared while the content is read (its errors still come after the content's)
        style_side = side.submit(prepare_style, styles, settings=settings, sr=reader.sr,
                                 level=level, hop=hop, n_channels=reader.n_channels,
                                 model=model, names=style_names(sources))
        # a timbre rendering by the numpy engine transforms the same blocks again for its
        # unshifted coefficients: the feature pass keeps them for it, where there is room
        keep = (engine != "sc" and settings.mode != "mosaic"
                and room_for_coefficients(reader.n_samples, reader.n_channels))
        found = content_features(reader, grid, blocks=step, chroma=needs_chroma(settings),
                                 octaves=needs_pitches(settings), name=name,
                                 keep_coefficients=keep)
        store = found.coefficients
        try:
            prepared = style_side.result()
        except BaseException:
            if store is not None:
                store.close()
            raise
        del style_side  # the future would keep the style's side through the rendering
    with store if store is not None else contextlib.nullcontext():
        release_freed()  # what the feature pass and the style's analyses left behind
        planned = plan_from_analysis(found.analysis, styles, settings=settings, model=model,
                                     progress=progress, sources=sources,
                                     content_chroma=found.chroma, side=prepared)
        plan, style = planned.plan, planned.style
        exponent = found.exponent
        del found, planned, prepared  # the render needs no features, recipe or style side
        release_freed()
        if progress is not None:
            progress("rendering")
        played = style.localise(plan) if isinstance(style, SegmentAnalysis) else plan
        if engine == "sc":
            rendered = render_nrt_to_file(played, reader, scratch, exponent=exponent,
                                          blocks=step, style=style, keep_score=keep_score)
        else:
            rendered = render_to_file(played, reader, scratch, exponent=exponent,
                                      blocks=step, style=style, coefficients=store)
    release_freed()  # the blocks' arrays, before the writing pass
    return dataclasses.replace(rendered, plan=plan)  # a corpus plan counts corpus frames
