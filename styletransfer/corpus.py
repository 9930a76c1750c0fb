"""Styles learnt from corpora: files and folders, streamed, indexed instead of copied.

`learn_corpus` learns a `StyleModel` from many audio files in bounded memory:

1. `corpus_files` lists the files (folders searched recursively for audio endings).
2. `extract`, a function of one file, reads it (block by block when it is long, see
   `sources.analysed_blocks`), hashes it and returns its frame features and pitch classes
   at reduced precision (float16), or why it was skipped. A `cluster.Runner` runs it on
   every file: in this process, in a local process pool or on Dask workers.
3. The features, in shards of whole files, feed `streaming.fit_states`: mini-batch
   k-means and an exact streaming EM, whose per-shard sums the runner reduces.

Only features are held (46 bytes a frame: 17 float16 features and 12 pitch classes at
22.05 kHz, some 120 KB per minute of audio), and the audio is read one file at a time.
The model keeps an index of the files (`CorpusIndex`) rather than their audio.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from . import audio
from .analysis import default_hop, default_level
from .cluster import LocalRunner, Runner
from .errors import ParameterError
from .model import StyleModel, single_threaded
from .settings import Settings
from .sources import (
    BLOCK_FRAMES,
    CHROMA_STEPS,
    WHOLE_FRAMES,
    CorpusIndex,
    FileEntry,
    Grid,
    analysed_blocks,
    file_digest,
    grid_frames,
    open_audio,
)
from .streaming import SHARD_FRAMES, Shard, fit_states, shard_layout

#: File endings looked for inside folders.
AUDIO_SUFFIXES = audio.READ_SUFFIXES


@dataclass(frozen=True)
class FileFeatures:
    """What `extract` takes from one file.

    Attributes
    ----------
    entry : FileEntry
        Its index entry.
    features : np.ndarray
        ``(n_frames, n_features)`` float16 frame features (`Analysis.features`).
    chroma : np.ndarray
        ``(n_frames, 12)`` pitch-class profiles (`frame_chroma`) in steps of
        1 / `CHROMA_STEPS`, as uint8.
    """

    entry: FileEntry
    features: np.ndarray
    chroma: np.ndarray


@dataclass(frozen=True)
class Skipped:
    """A file that could not be learnt from, and why (a one-line message naming it)."""

    path: str
    reason: str


def corpus_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files that ``paths`` name: files as given, folders searched recursively.

    Inside folders only names ending in `AUDIO_SUFFIXES` (any case) are taken, and hidden
    names (starting with ``.``) are passed over; each folder's entries are taken in sorted
    order, and a file named twice is taken once. A learnt model (``.npz``) is refused.

    Examples
    --------
    >>> corpus_files(["/tmp/corpus-example.wav"])
    [PosixPath('/tmp/corpus-example.wav')]
    """
    found: list[Path] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            found.append(path)

    for given in paths:
        path = Path(given)
        if path.suffix.lower() == ".npz":
            raise ParameterError(f"{path}: is a learnt model, not audio: learn from audio "
                                 "files")
        if not path.is_dir():
            add(path)
            continue
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            for name in sorted(names):
                if not name.startswith(".") and name.lower().endswith(AUDIO_SUFFIXES):
                    add(Path(folder) / name)
    return found


def corpus_grid(files: Sequence[Path], settings: Settings, sr: int | None = None) -> Grid:
    """The analysis grid of a corpus: ``sr`` (default: the first readable file's rate), the
    first readable file's channel count, and the settings' wavelet and bands."""
    first_error: ParameterError | None = None
    for path in files:
        try:
            with open_audio(path) as handle:
                rate, channels = int(handle.samplerate), int(handle.channels)
            break
        except ParameterError as exc:
            first_error = first_error or exc
    else:
        if len(files) == 1 and first_error is not None:
            raise first_error
        raise ParameterError(f"none of the {len(files)} files is readable audio (the first: "
                             f"{first_error}): check the paths")
    rate = sr if sr is not None else rate
    level = settings.levels or default_level(rate)
    return Grid(rate, channels, settings.wavelet, level, default_hop(rate, level),
                settings.bands_per_octave)


def extract(path: str | os.PathLike[str], grid: Grid) -> FileFeatures | Skipped:
    """Frame features, pitch classes and index entry of one file, or why it was skipped.

    A file that is not readable audio, or that is empty, silent, constant, not finite or
    shorter than a frame, is skipped (`Skipped`, with the one-line message `run` would
    give). Runs on one thread, so the result does not depend on where it runs.
    """
    absolute = os.path.abspath(path)
    try:
        with single_threaded():
            return _extract(absolute, grid)
    except ParameterError as exc:
        return Skipped(str(path), str(exc))
    except OSError as exc:
        return Skipped(str(path), f"{path}: cannot be read ({exc.strerror or exc}): check "
                       "the file")


def learn_corpus(paths: Sequence[str | os.PathLike[str]], *, settings: Settings | None = None,
                 sr: int | None = None, runner: Runner | None = None, strict: bool = False,
                 on_files: Callable[[int], None] | None = None,
                 on_file: Callable[[FileFeatures | Skipped], None] | None = None,
                 on_pass: Callable[[str], None] | None = None,
                 shard_frames: int = SHARD_FRAMES,
                 ) -> tuple[StyleModel, list[Skipped]]:
    """Learn a style from audio files and folders (see the module notes).

    Parameters
    ----------
    paths : sequence of path-like
        Files and folders (`corpus_files`).
    settings : Settings
        Clusters, seed, wavelet, levels and bands per octave.
    sr : int, optional
        Rate to learn at; by default the first readable file's.
    runner : Runner, optional
        Where per-file work and reductions run (default: this process).
    strict : bool
        Raise on the first file that cannot be learnt from, instead of skipping it.
    on_files, on_file, on_pass : callable, optional
        Called with the number of files found, with each file's result as it comes, and
        before each pass of the fitting.
    shard_frames : int
        Fewest frames of a shard (`streaming.shard_layout`): the unit of the reductions
        that are spread over the runner's workers. It changes the order in which sums are
        added, so the model only to the last bits.

    Returns
    -------
    model : StyleModel
        With ``index_`` and ``chroma_`` set.
    skipped : list of Skipped
        The files left out, in the order of ``paths``.

    Examples
    --------
    >>> import soundfile as sf
    >>> rng = np.random.default_rng(0)
    >>> sf.write("/tmp/corpus-example.wav", 0.1 * rng.standard_normal(22050), 22050)
    >>> model, skipped = learn_corpus(["/tmp/corpus-example.wav"],
    ...                               settings=Settings(clusters=3))
    >>> model.n_states_, len(model.index_.entries), skipped
    (3, 1, [])
    """
    settings = (settings or Settings()).checked()
    if sr is not None:
        audio.check_rate(sr, name="--sr")
    files = corpus_files(paths)
    if not files:
        raise ParameterError(f"no audio files found in {', '.join(map(str, paths))} (looked "
                             f"for {', '.join(AUDIO_SUFFIXES)}): name files or folders "
                             "holding audio")
    grid = corpus_grid(files, settings, sr)
    runner = runner or LocalRunner(1)
    if on_files is not None:
        on_files(len(files))

    def done(result: FileFeatures | Skipped) -> None:
        if strict and isinstance(result, Skipped):
            raise ParameterError(result.reason)
        if on_file is not None:
            on_file(result)

    results = runner.map(partial(extract, grid=grid), [str(f) for f in files], done=done)
    kept = [r for r in results if isinstance(r, FileFeatures)]
    skipped = [r for r in results if isinstance(r, Skipped)]
    if not kept:
        if len(skipped) == 1:
            raise ParameterError(skipped[0].reason)
        raise ParameterError(f"none of the {len(files)} files could be learnt from (the "
                             f"first: {skipped[0].reason})")
    model = _fit(kept, grid, settings, runner, on_pass, shard_frames)
    return model, skipped


def _fit(kept: list[FileFeatures], grid: Grid, settings: Settings, runner: Runner,
         on_pass: Callable[[str], None] | None, shard_frames: int) -> StyleModel:
    # column-major: every pass reads features a column at a time, and it packs smaller
    features = np.asfortranarray(np.concatenate([k.features for k in kept]))
    chroma = np.asfortranarray(np.concatenate([k.chroma for k in kept]))
    frames = [k.entry.frames for k in kept]
    index = CorpusIndex(tuple(k.entry for k in kept))
    shards = corpus_shards(features, frames, shard_frames)
    n_bands = (features.shape[1] - 1) // 2
    with single_threaded():
        states = fit_states(runner.shards(shards), [s.n_frames for s in shards],
                            n_states=settings.clusters, n_bands=n_bands, seed=settings.seed,
                            on_pass=on_pass)
    model = StyleModel(settings.clusters, seed=settings.seed)
    model.mean_, model.scale_, model.codebook_ = states.mean, states.scale, states.codebook
    model.means_, model.variances_, model.weights_ = (states.means, states.variances,
                                                      states.weights)
    model.labels_, model.transitions_ = states.labels, states.transitions
    model.shape_mean_, model.shape_std_ = states.shape_mean, states.shape_std
    model.features_ = features
    model.track_ = np.repeat(np.arange(len(kept), dtype=np.int32), frames)
    model.sr_, model.wavelet_, model.level_, model.hop_ = (grid.sr, grid.wavelet, grid.level,
                                                           grid.hop)
    model.n_bands_, model.bands_per_octave_ = n_bands, grid.bands_per_octave
    model.n_states_ = len(states.weights)
    model.chroma_, model.index_, model.n_channels_ = chroma, index, grid.n_channels
    model.log_likelihood_, model.n_iter_ = states.log_likelihood, states.n_iter
    return model


def corpus_shards(features: np.ndarray, frames: Sequence[int],
                  shard_frames: int = SHARD_FRAMES) -> list[Shard]:
    """The shards `learn_corpus` fits on: the rows of ``features`` (files of ``frames``
    frames each, one after another) in groups of whole files (`streaming.shard_layout`).

    Each shard is a column-major array of its own: the same memory layout, so the same
    rounding, in this process and on any worker it is sent to.

    Examples
    --------
    >>> shards = corpus_shards(np.zeros((9, 3), np.float16), [4, 3, 2], shard_frames=4)
    >>> [(s.n_frames, s.starts.tolist()) for s in shards]
    [(4, [0]), (5, [0, 3])]
    """
    offsets = np.concatenate([[0], np.cumsum(frames)[:-1]]).astype(np.int64)
    shards = []
    for number, files in enumerate(shard_layout(frames, shard_frames)):
        first = int(offsets[files.start])
        last = int(offsets[files.stop - 1]) + frames[files.stop - 1]
        shards.append(Shard(np.asfortranarray(features[first:last]),
                            offsets[files.start:files.stop] - first, number))
    return shards


def _extract(path: str, grid: Grid) -> FileFeatures:
    with open_audio(path) as handle:
        rate, samples, channels = int(handle.samplerate), int(handle.frames), handle.channels
        size, digest = file_digest(path)
        frames = grid_frames(samples, rate, grid)
        raw = None
        if frames <= WHOLE_FRAMES:
            raw = np.ascontiguousarray(handle.read(dtype="float32", always_2d=True).T)
            if raw.shape[1] != samples:
                raise ParameterError(f"{path}: could not be read to its end: repair or "
                                     "re-export the file")
            audio.check_audio(raw, name=path)
            exponent = audio.working_exponent(raw)
        else:
            exponent = _scan(handle, path)
        parts = list(analysed_blocks(handle, grid, exponent=exponent, path=path, raw=raw))
    entry = FileEntry(path=path, frames=frames, samples=samples, rate=rate,
                      channels=int(channels), size=size, digest=digest, exponent=exponent)
    features = np.vstack([a.features() for a, _ in parts]).astype(np.float16)
    chroma = np.round(np.vstack([c for _, c in parts]) * CHROMA_STEPS).astype(np.uint8)
    return FileFeatures(entry=entry, features=features, chroma=chroma)


def _scan(handle: object, path: str) -> int:
    """Check a long file block by block as `audio.check_audio` checks a short one, and
    return its working exponent (`audio.working_exponent` of its peak)."""
    import soundfile as sf

    assert isinstance(handle, sf.SoundFile)
    peak, first, varies = 0.0, None, False
    handle.seek(0)
    for block in handle.blocks(blocksize=BLOCK_FRAMES * 1024, dtype="float32",
                               always_2d=True):
        if not np.all(np.isfinite(block)):
            raise ParameterError(f"{path}: holds NaN or infinite samples: repair or "
                                 "re-export the file")
        peak = max(peak, float(np.max(np.abs(block))))
        if first is None:
            first = block[0].copy()
        varies = varies or bool(np.any(block != first[None, :]))
    if peak == 0.0:
        raise ParameterError(f"{path}: is silent (all samples are zero): give audio with "
                             "sound in it")
    if not varies:
        raise ParameterError(f"{path}: is constant (DC, every sample of a channel the "
                             "same): give audio with sound in it")
    return audio.working_exponent(np.array([[peak]]))
