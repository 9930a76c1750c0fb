"""The audio behind a corpus style: an index of its files, and frames read back from them.

A style learnt from a corpus keeps no copy of the audio: it keeps an *index*, one entry per
file (its path, the first of its frames among the model's, its length, rate and channels,
its size and a content hash), and reads back only the frames a mosaic plays.

Reading a range of frames decodes that range plus `Grid.context_frames` on each side and
analyses it: the wavelet filters' reach at the deepest level is inside the context, so the
frames' coefficients equal those of an analysis of the whole file. Where the context would
cross either end of a file that is analysed whole (`WHOLE_FRAMES`), the whole file is read
instead, since the transform's periodic extension joins its two ends. Longer files are
analysed in blocks of `BLOCK_FRAMES`, each with its context, and decoded block by block, so
memory does not grow with a file's length.

A file that is gone, or whose size, sample count or hash differ from its entry, is refused
with a `ParameterError` naming it.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pywt
import soundfile as sf

from . import audio
from .analysis import Analysis, analyse, packet_depths
from .archive import ArraySpec
from .errors import ParameterError
from .paths import regular_file
from .profiles import frame_chroma

#: Files of up to this many frames are read and analysed whole.
WHOLE_FRAMES = 4096
#: Longer files are analysed in blocks of this many frames (plus their context).
BLOCK_FRAMES = 4096
#: Hex digits of the content hash (BLAKE2b, 128 bits).
HASH_DIGITS = 32
#: Pitch-class profiles are kept in steps of 1 / CHROMA_STEPS (6 bits).
CHROMA_STEPS = 63
#: Most files an index holds, and the longest path it keeps (characters).
MAX_FILES, MAX_PATH = 1_000_000, 4096
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Grid:
    """The analysis every frame of a corpus is made with.

    Attributes
    ----------
    sr : int
        Sample rate the files are resampled to.
    n_channels : int
        Channel count the files are matched to.
    wavelet, level, hop, bands_per_octave :
        As for `analyse`.

    Examples
    --------
    >>> Grid(22050, 1, "sym12", 7, 512, 1).context_frames()
    8
    """

    sr: int
    n_channels: int
    wavelet: str
    level: int
    hop: int
    bands_per_octave: int = 1

    def context_frames(self) -> int:
        """Frames on each side of a range whose samples reach into its coefficients.

        A coefficient of a band split ``d`` times below octave ``j`` depends on about
        ``(filter length - 1) * 2**(j + d)`` samples; two frames more cover the two-frame
        window a mosaic plays and the chroma's window.
        """
        taps = pywt.Wavelet(self.wavelet).dec_len - 1
        depths = packet_depths(self.hop, self.level, self.bands_per_octave)
        octaves = [self.level, *range(self.level, 0, -1)]
        reach = taps * max(2 ** (j + d) for j, d in zip(octaves, depths, strict=True))
        return math.ceil(reach / self.hop) + 2

    def with_channels(self, n_channels: int) -> Grid:
        return Grid(self.sr, n_channels, self.wavelet, self.level, self.hop,
                    self.bands_per_octave)


@dataclass(frozen=True)
class FileEntry:
    """What the index knows of one file.

    Attributes
    ----------
    path : str
        Absolute path.
    frames : int
        Its frames on the grid.
    samples, rate, channels : int
        Its own length, sample rate and channel count.
    size : int
        Bytes.
    digest : str
        BLAKE2b-128 of its bytes, hexadecimal.
    exponent : int
        The power of two its samples are analysed scaled by (`audio.working_exponent`).
    """

    path: str
    frames: int
    samples: int
    rate: int
    channels: int
    size: int
    digest: str
    exponent: int = 0


@dataclass(frozen=True)
class CorpusIndex:
    """The files behind a style's frames, in the order of the frames.

    File ``i`` holds the model's frames ``offsets[i]`` to ``offsets[i] + entries[i].frames``.

    Examples
    --------
    >>> index = CorpusIndex((FileEntry("/a.wav", 3, 1536, 22050, 1, 3116, "0" * 32),
    ...                      FileEntry("/b.wav", 2, 1024, 22050, 1, 2092, "1" * 32)))
    >>> index.offsets.tolist(), index.n_frames
    ([0, 3], 5)
    >>> [(int(f), int(r)) for f, r in zip(*index.locate(np.array([4, 0])))]
    [(1, 1), (0, 0)]
    """

    entries: tuple[FileEntry, ...]

    @property
    def offsets(self) -> np.ndarray:
        """``(n_files,)`` the model frame each file starts at."""
        frames = np.array([e.frames for e in self.entries], dtype=np.int64)
        return np.concatenate([[0], np.cumsum(frames)[:-1]]).astype(np.int64)

    @property
    def n_frames(self) -> int:
        return int(sum(e.frames for e in self.entries))

    def locate(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The file of each model frame and the frame's number within that file."""
        offsets = self.offsets
        files = np.searchsorted(offsets, frames, side="right") - 1
        return files, frames - offsets[files]

    def arrays(self) -> dict[str, np.ndarray]:
        """The index as archive members (see `INDEX_ARRAYS`)."""
        entries = self.entries
        return {
            "index_paths": np.array([e.path for e in entries], dtype=str),
            "index_offsets": self.offsets,
            "index_samples": np.array([e.samples for e in entries], dtype=np.int64),
            "index_rates": np.array([e.rate for e in entries], dtype=np.int64),
            "index_channels": np.array([e.channels for e in entries], dtype=np.int64),
            "index_bytes": np.array([e.size for e in entries], dtype=np.int64),
            "index_digests": np.array([e.digest for e in entries], dtype=f"<U{HASH_DIGITS}"),
            "index_exponents": np.array([e.exponent for e in entries], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], n_frames: int, grid: Grid,
                    refuse: Callable[[str], Exception]) -> CorpusIndex:
        """The index held by checked archive members; ``refuse(problem)`` makes the error
        raised for members that disagree with each other or with ``n_frames``."""
        n_files = arrays["index_paths"].shape[0]
        for name in INDEX_ARRAYS:
            if arrays[name].shape != (n_files,):
                raise refuse(f"member {name!r} has shape {arrays[name].shape}, expected "
                             f"({n_files},)")
        offsets = arrays["index_offsets"].astype(np.int64)
        frames = np.diff(np.append(offsets, n_frames))
        if n_files < 1 or offsets[0] != 0 or np.any(frames < 1):
            raise refuse("member 'index_offsets' does not split the frames into files")
        entries = []
        for i in range(n_files):
            path, digest = str(arrays["index_paths"][i]), str(arrays["index_digests"][i])
            if not os.path.isabs(path) or "\0" in path or len(path) > MAX_PATH:
                raise refuse(f"member 'index_paths' holds {path[:40]!r}, not an absolute path")
            if len(digest) != HASH_DIGITS or digest.strip("0123456789abcdef"):
                raise refuse("member 'index_digests' holds a value that is not a hash")
            entry = FileEntry(path=path, frames=int(frames[i]),
                              samples=int(arrays["index_samples"][i]),
                              rate=int(arrays["index_rates"][i]),
                              channels=int(arrays["index_channels"][i]),
                              size=int(arrays["index_bytes"][i]), digest=digest,
                              exponent=int(arrays["index_exponents"][i]))
            if grid_frames(entry.samples, entry.rate, grid) != entry.frames:
                raise refuse(f"member 'index_samples' gives {path[:40]!r} "
                             f"{entry.samples} samples, which is not its {entry.frames} "
                             "frames")
            entries.append(entry)
        return cls(tuple(entries))


def _index_arrays() -> dict[str, ArraySpec]:
    text = 4 * MAX_PATH * MAX_FILES
    return {"index_paths": ArraySpec("U", 1, max_bytes=text),
            "index_offsets": ArraySpec("iu", 1, 0, 2**40),
            "index_samples": ArraySpec("iu", 1, 1, 2**40),
            "index_rates": ArraySpec("iu", 1, *audio.SAMPLE_RATES),
            "index_channels": ArraySpec("iu", 1, 1, audio.MAX_CHANNELS),
            "index_bytes": ArraySpec("iu", 1, 1, 2**50),
            "index_digests": ArraySpec("U", 1, max_bytes=4 * HASH_DIGITS * MAX_FILES),
            "index_exponents": ArraySpec("iu", 1, -160, 160)}


#: What the members of an index must hold (`CorpusIndex.arrays`).
INDEX_ARRAYS = _index_arrays()


def file_digest(path: str | os.PathLike[str]) -> tuple[int, str]:
    """Size in bytes and BLAKE2b-128 hex digest of a file, read in 1 MiB pieces.

    Examples
    --------
    >>> _ = open("/tmp/digest.txt", "wb").write(b"abc")
    >>> file_digest("/tmp/digest.txt")
    (3, 'cf4ab791c62b8d2b2109c90275287816')
    """
    digest = hashlib.blake2b(digest_size=HASH_DIGITS // 2)
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def grid_frames(samples: int, rate: int, grid: Grid) -> int:
    """Frames of a file of ``samples`` at ``rate`` once resampled to the grid's rate."""
    resampled = samples if rate == grid.sr else _resampled_length(samples, rate, grid.sr)
    return -(-resampled // grid.hop)


def open_audio(path: str | os.PathLike[str]) -> sf.SoundFile:
    """An open `soundfile.SoundFile`, checked as `audio.read` checks it (ParameterError)."""
    checked = regular_file(path)
    try:
        handle = sf.SoundFile(str(checked))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ParameterError(f"{path}: not a readable audio file ({_first_line(exc)}): use "
                             "WAV, FLAC, OGG, AIFF, AU or MP3") from None
    try:
        audio.check_rate(int(handle.samplerate), name=str(path))
        if handle.channels > audio.MAX_CHANNELS:
            raise ParameterError(f"{path}: has {handle.channels} channels; at most "
                                 f"{audio.MAX_CHANNELS} are read: mix it down first")
        if handle.frames < 1:
            raise ParameterError(f"{path}: has no samples (zero length): give a file with "
                                 "audio in it")
    except ParameterError:
        handle.close()
        raise
    return handle


def analysed_blocks(handle: sf.SoundFile, grid: Grid, *, exponent: int,
                    path: str | os.PathLike[str], raw: np.ndarray | None = None,
                    ) -> Iterator[tuple[Analysis, np.ndarray]]:
    """A whole open file, block by block: each block's analysis and `frame_chroma`.

    A file of up to `WHOLE_FRAMES` frames is one block (``raw``: its samples, if already
    read); a longer one is read in blocks of `BLOCK_FRAMES`, each decoded with its context
    (see the module notes). ``exponent`` is the file's working exponent
    (`FileEntry.exponent`).
    """
    total = grid_frames(int(handle.frames), int(handle.samplerate), grid)
    if total <= WHOLE_FRAMES:
        yield _excerpt(handle, grid, 0, total, exponent, path, keep=(0, total), raw=raw,
                       chroma=True)
        return
    context = grid.context_frames()
    for lo in range(0, total, BLOCK_FRAMES):
        hi = min(total, lo + BLOCK_FRAMES)
        yield _excerpt(handle, grid, max(0, lo - context), min(total, hi + context),
                       exponent, path, keep=(lo, hi), chroma=True)


def read_frames(entry: FileEntry, grid: Grid, ranges: Sequence[tuple[int, int]],
                *, source: str) -> list[Analysis]:
    """Analyses of the ``ranges`` (first, past-last frame, counted in the file) of one
    indexed file, decoding no more of it than the ranges need.

    Each range is read with its context, except that the whole file is read once when
    that is less work or a range's context reaches an end of a file analysed whole.
    ``source`` names the model, for messages. The file is checked against its entry
    first (`verify`).
    """
    handle = verify(entry, grid, source=source)
    try:
        context, total = grid.context_frames(), entry.frames
        needed = sum(hi - lo + 2 * context for lo, hi in ranges)
        edge = any(lo - context <= 0 or hi + context >= total for lo, hi in ranges)
        if total <= WHOLE_FRAMES and (edge or needed >= total // 2):
            whole, _ = _excerpt(handle, grid, 0, total, entry.exponent, entry.path,
                                keep=(0, total))
            return [frame_range(whole, lo, hi) for lo, hi in ranges]
        return [_excerpt(handle, grid, max(0, lo - context), min(total, hi + context),
                         entry.exponent, entry.path, keep=(lo, hi))[0] for lo, hi in ranges]
    finally:
        handle.close()


def verify(entry: FileEntry, grid: Grid, *, source: str) -> sf.SoundFile:
    """Open ``entry``'s file if it is still the file the index describes, else raise
    `ParameterError` naming it (missing, or changed: size, length, rate or hash)."""
    hint = f"restore it, or learn {source} again with 'styletransfer learn'"
    try:
        regular_file(entry.path)
    except ParameterError as exc:
        reason = str(exc).removeprefix(f"{entry.path}: ").split(":")[0]
        raise ParameterError(f"{entry.path}: a source file of {source} is missing or "
                             f"unreadable ({reason}): {hint}") from None
    size, digest = file_digest(entry.path)
    changed = f"{entry.path}: a source file of {source} has changed since it was learnt"
    if size != entry.size or digest != entry.digest:
        raise ParameterError(f"{changed} (its content hash differs): {hint}")
    handle = open_audio(entry.path)
    if (int(handle.frames), int(handle.samplerate), int(handle.channels)) != (
            entry.samples, entry.rate, entry.channels) or grid_frames(
            entry.samples, entry.rate, grid) != entry.frames:
        handle.close()
        raise ParameterError(f"{changed} (its length, rate or channels differ): {hint}")
    return handle


def frame_range(a: Analysis, lo: int, hi: int) -> Analysis:
    """Frames ``lo`` to ``hi`` of ``a`` as an analysis of their own.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((1, 8192))
    >>> part = frame_range(analyse(y, 22050, level=4), 2, 5)
    >>> part.n_frames, part.signal.shape
    (3, (1, 1536))
    """
    sizes = a.band_sizes()
    signal = a.signal[:, lo * a.hop: hi * a.hop]
    if signal.shape[1] < (hi - lo) * a.hop:
        signal = np.pad(signal, ((0, 0), (0, (hi - lo) * a.hop - signal.shape[1])))
    return Analysis(coeffs=[c[:, lo * m: hi * m] for c, m in zip(a.coeffs, sizes, strict=True)],
                    sr=a.sr, wavelet=a.wavelet, level=a.level, hop=a.hop,
                    n_samples=(hi - lo) * a.hop, energy=a.energy[lo:hi], crest=a.crest[lo:hi],
                    signal=signal, bands_per_octave=a.bands_per_octave)


def _excerpt(handle: sf.SoundFile, grid: Grid, lo: int, hi: int, exponent: int,
             path: str | os.PathLike[str], *, keep: tuple[int, int],
             raw: np.ndarray | None = None, chroma: bool = False,
             ) -> tuple[Analysis, np.ndarray]:
    """Frames ``keep`` of an open file, from an analysis of its frames ``lo`` to ``hi``
    read as a signal of their own (``lo`` moved back onto a sample both rates share), and
    with ``chroma`` their `frame_chroma` (else an empty array). ``raw``: the whole file's
    samples, when they have been read already."""
    rate, samples = int(handle.samplerate), int(handle.frames)
    hop = grid.hop
    length = samples if rate == grid.sr else _resampled_length(samples, rate, grid.sr)
    if rate != grid.sr:
        step = _aligned_frames(rate, grid)
        lo = lo // step * step
    first = lo * hop * rate // grid.sr
    last = min(samples, -(-hi * hop * rate // grid.sr))
    if raw is not None:
        y = raw[:, first:last]
    else:
        handle.seek(first)
        y = np.ascontiguousarray(handle.read(last - first, dtype="float32",
                                             always_2d=True).T)
    if y.shape[1] != last - first:
        raise ParameterError(f"{path}: could not be read to its end ({first + y.shape[1]} "
                             f"of {samples} samples): repair or re-export the file")
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"{path}: holds NaN or infinite samples: repair or re-export "
                             "the file")
    y = audio.to_channels(audio.resample(np.ldexp(y, exponent), rate, grid.sr),
                          grid.n_channels)
    want = min(hi * hop, length) - lo * hop
    y = y[:, :want] if y.shape[1] >= want else np.pad(y, ((0, 0), (0, want - y.shape[1])))
    whole = analyse(y, grid.sr, wavelet=grid.wavelet, level=grid.level, hop=hop,
                    bands_per_octave=grid.bands_per_octave, name=str(path))
    first_kept, last_kept = keep[0] - lo, keep[1] - lo
    profile = (frame_chroma(whole.signal, grid.sr, hop, whole.n_frames)[first_kept:last_kept]
               if chroma else np.zeros((0, 12)))
    return frame_range(whole, first_kept, last_kept), profile


def _aligned_frames(rate: int, grid: Grid) -> int:
    """The smallest step of frames whose starts are whole samples at ``rate`` too."""
    q = grid.sr // math.gcd(grid.sr, rate)
    return q // math.gcd(q, grid.hop)


def _resampled_length(samples: int, rate: int, target: int) -> int:
    return math.ceil(samples * target / rate)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
