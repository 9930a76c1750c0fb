"""Rendering a synthesis in chunks, and writing it to a file as it is made.

The numpy engine renders a synthesis a chunk of frames at a time: frames ``a .. b`` are
rendered as a plan of their own that reaches `margin` frames further on each side, and
only the middle is kept. The inverse wavelet transform of a sample reaches no further
than that margin, so the chunks join exactly as one long rendering would (to float
rounding), whatever the chunk size; before the first frame and after the last, the
margin plays the style's own neighbouring frames. The output's first and last 10 ms are
faded in and out. Memory depends on the chunk size and the style, never on the length.

`write_synth` writes the chunks as they come to a temporary float file beside the
target, checking every chunk (finite samples), then writes the target's format from it
with one normalisation gain (peaks at most -1 dBFS, as every output of the tool; float
files without the PEAK chunk that would hold the time of writing), and puts it in place
atomically: an interrupted or failed synthesis leaves no file.

Examples
--------
>>> import numpy as np
>>> from styletransfer.synth import Synthesiser, prepare
>>> from styletransfer.synth_settings import SynthSettings
>>> style = np.random.default_rng(0).standard_normal((1, 66150)).astype(np.float32)
>>> index = prepare([(style, 22050)])
>>> chunks = stream_synth(Synthesiser(index, SynthSettings()).next_frames, index, 30000,
...                       chunk_frames=16)
>>> sum(c.shape[1] for c in chunks)
30000
"""

from __future__ import annotations

import math
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from .analysis import Analysis
from .atomic import atomic_targets
from .audio import PCM_BITS, PEAK_CEILING
from .engine_numpy import render
from .errors import InternalError, ParameterError
from .plan import RenderPlan
from .synth import PlanChunk
from .synth_index import StyleIndex, edge_frames

#: Frames rendered at a time (about 12 s at 44.1 kHz).
CHUNK_FRAMES = 512
#: Fade at the start and the end of an output, in seconds.
FADE_SECONDS = 0.01
#: Samples per block in the second pass of `write_synth`.
COPY_BLOCK = 1 << 18


def margin(style: Analysis) -> int:
    """Frames rendered beyond each side of a chunk (the synthesis filters' reach)."""
    return edge_frames(style.wavelet, style.level, style.hop)


def stream_synth(next_frames: Callable[[int], PlanChunk], index: StyleIndex | Analysis,
                 n_samples: int,
                 *, chunk_frames: int = CHUNK_FRAMES,
                 progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
    """Render ``n_samples`` of a synthesis chunk by chunk, pulling frames as needed.

    Parameters
    ----------
    next_frames : callable
        ``next_frames(n)`` gives the next ``n`` frames (`Synthesiser.next_frames`).
    index : StyleIndex or Analysis
        The style the frames play (an index's, or the analysis of the style tracks
        concatenated, as a saved plan's segments index them).
    n_samples : int
        Samples to render in all.
    chunk_frames : int
        Frames per rendered chunk.
    progress : callable, optional
        Called with the number of frames rendered by each chunk.

    Yields
    ------
    np.ndarray
        ``(n_channels, samples)`` float chunks, ``chunk_frames * hop`` samples each but
        the last; together ``n_samples``.
    """
    style = index.style if isinstance(index, StyleIndex) else index
    hop, m = style.hop, margin(style)
    total = -(-n_samples // hop)
    segments = np.empty(0, dtype=np.int64)
    gains = np.empty((0, style.n_bands), dtype=np.float32)
    held = 0  # frame number of segments[0]
    fade = _fade(style.sr)
    for start in range(0, total, chunk_frames):
        stop = min(start + chunk_frames, total)
        wanted = min(stop + m, total)
        have = held + segments.size
        if wanted > have:
            chunk = next_frames(wanted - have)
            segments = np.concatenate([segments, chunk.segments])
            gains = np.concatenate([gains, chunk.gains])
        low = max(start - m, held)
        window = slice(low - held, wanted - held)
        seg, gain = _padded(segments[window], gains[window], before=low - (start - m),
                            after=stop + m - wanted, n_frames=style.n_frames)
        audio = _render_frames(style, seg, gain)[:, m * hop: (m + stop - start) * hop]
        end = min(stop * hop, n_samples)
        audio = audio[:, : end - start * hop]
        if start == 0:
            audio[:, : fade.size] *= fade[: audio.shape[1]]
        if stop == total:
            tail = min(fade.size, audio.shape[1])
            audio[:, audio.shape[1] - tail:] *= fade[::-1][fade.size - tail:]
        keep = max(0, stop - m) - held
        segments, gains, held = segments[keep:], gains[keep:], held + keep
        if progress is not None:
            progress(stop - start)
        yield audio


class Prefetched:
    """``next_frames`` (`Synthesiser.next_frames`) served from frames made ahead, on a
    thread of its own: the walk (Python) runs while the frames before are rendered (numpy
    and PyWavelets, which release the GIL). Calls in any sizes give the frames that
    ``next_frames`` gives, as the walk does (`Synthesiser`); at most ``total`` frames are
    made, ``block`` at a time, at most ``ahead`` blocks ahead. Use as a context manager.

    Examples
    --------
    >>> with Prefetched(Synthesiser(index, SynthSettings()).next_frames, 1000) as frames:
    ...     frames(10).n_frames  # doctest: +SKIP
    10
    """

    def __init__(self, next_frames: Callable[[int], PlanChunk], total: int, *,
                 block: int = CHUNK_FRAMES, ahead: int = 2) -> None:
        self._next, self._total, self._block = next_frames, int(total), int(block)
        self._made: queue.Queue[PlanChunk | BaseException] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._held: list[PlanChunk] = []
        self._thread = threading.Thread(target=self._walk, name="synth walk", daemon=True)

    def __enter__(self) -> Prefetched:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # free the walk if it waits to hand a block over
            try:
                self._made.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def __call__(self, n: int) -> PlanChunk:
        while sum(chunk.n_frames for chunk in self._held) < n:
            item = self._made.get()
            if isinstance(item, BaseException):
                raise item
            self._held.append(item)
        joined = PlanChunk(start=self._held[0].start,
                           segments=np.concatenate([c.segments for c in self._held]),
                           gains=np.concatenate([c.gains for c in self._held]),
                           states=np.concatenate([c.states for c in self._held]))
        rest = PlanChunk(joined.start + n, joined.segments[n:], joined.gains[n:],
                         joined.states[n:])
        self._held = [rest] if rest.n_frames else []
        return PlanChunk(joined.start, joined.segments[:n], joined.gains[:n],
                         joined.states[:n])

    def _walk(self) -> None:
        made = 0
        try:
            while made < self._total and not self._stop.is_set():
                chunk = self._next(min(self._block, self._total - made))
                made += chunk.n_frames
                self._hand_over(chunk)
        except BaseException as error:  # raised where the frames are asked for
            self._hand_over(error)

    def _hand_over(self, item: PlanChunk | BaseException) -> None:
        while not self._stop.is_set():
            try:
                self._made.put(item, timeout=0.05)
                return
            except queue.Full:
                pass


def render_synth(plan: RenderPlan, index: StyleIndex | Analysis, *, engine: str = "numpy",
                 chunk_frames: int = CHUNK_FRAMES,
                 keep_score: str | os.PathLike[str] | None = None) -> np.ndarray:
    """Render a whole synthesis plan (`Synthesiser.plan`) with ``engine`` into memory, from
    its style's index or analysis (as `stream_synth`); `plan_chunks` gives it in chunks.
    """
    return np.concatenate(list(plan_chunks(plan, index, engine=engine, chunk_frames=chunk_frames,
                                           keep_score=keep_score)), axis=1)


def plan_chunks(plan: RenderPlan, index: StyleIndex | Analysis, *, engine: str = "numpy",
                chunk_frames: int = CHUNK_FRAMES,
                keep_score: str | os.PathLike[str] | None = None) -> Iterator[np.ndarray]:
    """A synthesis plan rendered with ``engine``, in chunks.

    ``numpy`` renders it in chunks as `stream_synth` does; ``sc`` renders it with
    SuperCollider offline (`render_nrt`, no content: envelope 0; ``keep_score`` keeps its
    score) in one piece, then fades it likewise.

    Examples
    --------
    >>> sum(c.shape[1] for c in plan_chunks(plan, index))  # doctest: +SKIP
    661500
    """
    if plan.mode != "mosaic" or plan.envelope != 0.0:
        raise ParameterError("a synthesis plan is a mosaic without envelope")
    style = index.style if isinstance(index, StyleIndex) else index
    if engine == "sc":
        from .supercollider.nrt import render_nrt

        yield _faded(render_nrt(plan, None, style, keep_score=keep_score), style.sr)
        return
    if engine != "numpy":
        raise ParameterError(f"engine {engine!r} is unknown: use one of ('numpy', 'sc')")
    position = 0

    def frames(n: int) -> PlanChunk:
        nonlocal position
        part = slice(position, position + n)
        position += n
        return PlanChunk(start=part.start, segments=plan.segments[part],
                         gains=plan.gains[part], states=plan.segments[part] * 0)

    yield from stream_synth(frames, style, plan.n_samples, chunk_frames=chunk_frames)


def write_synth(path: str | os.PathLike[str], chunks: Iterable[np.ndarray], sr: int, *,
                n_channels: int, subtype: str, force: bool = False, exponent: int = 0,
                also: Sequence[tuple[str | os.PathLike[str], Callable[[Path], None]]] = (),
                ) -> float:
    """Write audio ``chunks`` to ``path`` as they come; returns the normalisation gain.

    Every chunk is checked (finite samples) before it is kept; the whole must not be
    constant. The chunks go to a float file beside ``path`` first, then ``path`` is
    written from it in ``subtype`` with one gain that keeps the peak at or below -1 dBFS
    (and ``2**-exponent``, undoing `working_exponent`), and put in place atomically.
    ``also``: (other target, writer) pairs; each writer writes its file (a plan, a
    picture) to the path it is given, once the audio is complete; every file is put in
    place, or none.

    Examples
    --------
    >>> import numpy as np
    >>> parts = [np.full((1, 100), 0.5), np.full((1, 100), -2.0)]
    >>> round(write_synth("/tmp/st-synth-example.wav", parts, 22050, n_channels=1,
    ...                   subtype="PCM_24", force=True), 4)
    0.4456
    """
    target = Path(path)
    container = "FLAC" if target.suffix.lower() == ".flac" else "WAV"
    with atomic_targets([target, *(side for side, _ in also)], force=force) as temps:
        temp = temps[0]
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".float.part",
                                    dir=temp.parent)
        os.close(fd)
        raw = Path(name)
        try:
            low, high, written = math.inf, -math.inf, 0
            with sf.SoundFile(str(raw), "w", samplerate=sr, channels=n_channels,
                              subtype="FLOAT", format="WAV") as handle:
                for chunk in chunks:
                    bad = int(chunk.size - np.count_nonzero(np.isfinite(chunk)))
                    if bad:
                        raise InternalError(f"the result holds {bad} NaN or infinite "
                                            "samples: nothing was written")
                    if chunk.size:
                        low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
                    written += chunk.shape[1]
                    handle.write(np.ascontiguousarray(chunk.T, dtype=np.float32))
            if written == 0 or low == high:
                raise InternalError(f"the result is constant ({low:g} in every sample): "
                                    "nothing was written")
            scale = 2.0 ** -exponent
            peak = max(abs(low), abs(high)) * scale
            gain = min(1.0, PEAK_CEILING / peak)
            bits = PCM_BITS.get(subtype)
            if bits is not None and peak * gain < 2.0 ** -bits:
                raise ParameterError(f"the result peaks at {20 * np.log10(peak):.0f} dBFS, "
                                     f"below what {bits}-bit samples hold: nothing was "
                                     "written; use --subtype float")
            with sf.SoundFile(str(raw)) as source, sf.SoundFile(
                    str(temp), "w", samplerate=sr, channels=n_channels, subtype=subtype,
                    format=container) as out:
                _no_peak_chunk(out)
                for block in source.blocks(blocksize=COPY_BLOCK, dtype="float32",
                                           always_2d=True):
                    out.write(block * np.float32(gain * scale))
        finally:
            raw.unlink(missing_ok=True)
        for (_, writer), temp in zip(also, temps[1:], strict=True):
            writer(temp)
    return gain


def _no_peak_chunk(handle: sf.SoundFile) -> None:
    """Leave out libsndfile's PEAK chunk of float files, which holds the time of writing:
    without it the same synthesis gives the same bytes (call before any write)."""
    set_add_peak_chunk = 0x1050  # SFC_SET_ADD_PEAK_CHUNK in sndfile.h
    sf._snd.sf_command(handle._file, set_add_peak_chunk, sf._ffi.NULL, 0)


def _render_frames(style: Analysis, segments: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Render a window of frames on its own (numpy engine, periodic at its ends)."""
    plan = RenderPlan(mode="mosaic", sr=style.sr, n_samples=segments.size * style.hop,
                      n_channels=style.n_channels, wavelet=style.wavelet, level=style.level,
                      hop=style.hop, gains=gains, segments=segments, envelope=0.0,
                      bands_per_octave=style.bands_per_octave)
    return render(plan, None, style)


def _padded(segments: np.ndarray, gains: np.ndarray, *, before: int, after: int,
            n_frames: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames extended by the style's own neighbours of the first and last frame."""
    if before <= 0 and after <= 0:
        return segments, gains
    lead = segments[0] - np.arange(before, 0, -1)
    tail = segments[-1] + np.arange(1, after + 1)
    seg = np.clip(np.concatenate([lead, segments, tail]), 0, n_frames - 1)
    gain = np.concatenate([np.repeat(gains[:1], before, axis=0), gains,
                           np.repeat(gains[-1:], after, axis=0)])
    return seg.astype(np.int64), gain


def _fade(sr: int) -> np.ndarray:
    n = max(1, int(FADE_SECONDS * sr))
    return np.asarray(np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / n) ** 2, dtype=np.float32)


def _faded(audio: np.ndarray, sr: int) -> np.ndarray:
    fade = _fade(sr)[: audio.shape[1]]
    audio[:, : fade.size] *= fade
    audio[:, audio.shape[1] - fade.size:] *= fade[::-1]
    return audio
