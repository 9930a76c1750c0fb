"""Mosaics from a corpus style: frames chosen from the features, only those read from disk.

A style learnt from files keeps every frame's features and pitch classes, and an index of
the files instead of their audio. A mosaic from it:

1. chooses its frames from the features alone: `choose_segments` takes the nearest
   candidates of every content frame from a nearest-neighbour index of the corpus's
   features (`neighbours.CellIndex`: k-means cells, only the nearest cells scored) and
   runs its dynamic programme over those candidates;
2. reads back only the chosen frames and their neighbours (the two-frame window a mosaic
   frame plays), grouped into runs per file (`read_segments`), each run decoded and
   analysed with its context (`sources.read_frames`), so its coefficients equal those of
   the whole file's analysis;
3. renders from that small `SegmentAnalysis`: a plan's segments count the corpus's frames,
   and `SegmentAnalysis.localise` maps them onto the frames that were read.
"""

from __future__ import annotations

import dataclasses
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from .analysis import Analysis
from .errors import ParameterError
from .mapping import Mapping, StyleFrames, search_segments
from .model import StyleModel
from .neighbours import corpus_search
from .plan import RenderPlan
from .settings import Settings
from .sources import CHROMA_STEPS, Grid, read_frames

#: Files read at once for a mosaic.
READERS = max(1, min(4, os.cpu_count() or 1))

@dataclass(frozen=True)
class SegmentAnalysis(Analysis):
    """The analysis of some frames of a corpus, in corpus order.

    Attributes
    ----------
    frames : np.ndarray
        ``(n_frames,)`` increasing: the corpus frame each of these frames is.
    """

    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def local(self, segments: np.ndarray) -> np.ndarray:
        """Corpus frame numbers as numbers of frames of this analysis."""
        local = np.searchsorted(self.frames, segments)
        if np.any(local >= self.frames.size) or np.any(self.frames[np.minimum(
                local, self.frames.size - 1)] != segments):
            raise ParameterError("the plan plays corpus frames that were not read")
        return local.astype(np.int64)

    def localise(self, plan: RenderPlan) -> RenderPlan:
        """``plan`` with its segments counted in this analysis's frames."""
        return dataclasses.replace(plan, segments=self.local(plan.segments))


def is_corpus(model: StyleModel | None) -> bool:
    """Whether ``model`` indexes files it can read frames from."""
    return model is not None and model.index_ is not None and model.chroma_ is not None


def corpus_frames(model: StyleModel, *, pitch: bool = False) -> StyleFrames:
    """The frames of a corpus style as `choose_segments` compares them."""
    assert model.chroma_ is not None
    chroma = model.chroma_ * np.float32(1 / CHROMA_STEPS) if pitch else None
    return StyleFrames(features=model.features_, labels=model.labels_, track=model.track_,
                       chroma=chroma)


def check_corpus_mosaic(model: StyleModel, settings: Settings, *, source: str) -> None:
    """Refuse, before any work, a search a corpus style cannot make from its index."""
    if settings.transpose:
        raise ParameterError(f"{source}: --transpose {settings.transpose} needs the style's "
                             "audio, and this style keeps an index of its files: use "
                             "--transpose 0, or learn it with --embed-audio")


def plan_corpus_mosaic(content: Analysis, model: StyleModel, mapping: Mapping,
                       settings: Settings, *, source: str = "the style",
                       content_chroma: np.ndarray | None = None,
                       ) -> tuple[RenderPlan, SegmentAnalysis]:
    """A mosaic plan from a corpus style, and the analysis of the frames it plays.

    The plan's segments are corpus frames; render it with ``style.localise(plan)``.
    ``source`` names the model in messages (a file that changed or went missing);
    ``content_chroma`` as for `mapping.search_segments`.
    """
    from .transfer import mosaic_plan

    segments = _search_corpus(content, model, mapping, settings, source=source,
                              content_chroma=content_chroma)
    style = read_segments(model, segments, n_channels=content.n_channels, source=source)
    plan = mosaic_plan(content, style, style.local(segments), settings)
    return dataclasses.replace(plan, segments=segments), style


def corpus_frame_targets(content: Analysis, model: StyleModel, mapping: Mapping,
                         settings: Settings, *, source: str = "the style",
                         content_chroma: np.ndarray | None = None) -> np.ndarray:
    """Timbre mode's frame targets (``targets = "frames"``) from a corpus style: the band
    shape of the corpus frame a mosaic's search picks for each content frame, read back
    from the files (as a mono mix: timbre mode measures the style, never plays it)."""
    segments = _search_corpus(content, model, mapping, settings, source=source,
                              content_chroma=content_chroma)
    style = read_segments(model, segments, n_channels=1, source=source)
    return np.asarray(style.band_shape()[style.local(segments)])


def _search_corpus(content: Analysis, model: StyleModel, mapping: Mapping, settings: Settings,
                   *, source: str, content_chroma: np.ndarray | None) -> np.ndarray:
    """The corpus frame a mosaic's search picks for each content frame, from the model's
    nearest-neighbour index (`corpus_search`), once the corpus is checked for it."""
    check_corpus_mosaic(model, settings, source=source)
    frames = corpus_frames(model, pitch=settings.pitch > 0)
    return search_segments(content, model, mapping.target_features, frames,
                           continuity=settings.continuity, pitch=settings.pitch,
                           onset_jumps=settings.onset_jumps, search=corpus_search,
                           target_chroma=content_chroma)


def read_segments(model: StyleModel, segments: np.ndarray, *, n_channels: int,
                  source: str = "the style") -> SegmentAnalysis:
    """The analysis of corpus frames ``segments`` and of their neighbours, read from the
    files of the model's index (see the module notes)."""
    index = model.index_
    if index is None or model.n_channels_ is None:
        raise ParameterError(f"{source}: holds no index of its files: learn it again with "
                             "'styletransfer learn'")
    total = index.n_frames
    used = np.unique(segments)
    if used.size and (used[0] < 0 or used[-1] >= total):
        raise ParameterError(f"{source}: the plan plays frames the style does not have")
    needed = np.unique(np.concatenate([used - 1, used, used + 1]))
    needed = needed[(needed >= 0) & (needed < total)]
    files, within = index.locate(needed)
    # runs of consecutive frames within one file
    breaks = np.flatnonzero((np.diff(needed) != 1) | (np.diff(files) != 0)) + 1
    starts, stops = np.r_[0, breaks], np.r_[breaks, needed.size]
    grid = Grid(model.sr_, n_channels, model.wavelet_, model.level_, model.hop_,
                model.bands_per_octave_)
    by_file: dict[int, list[tuple[int, int]]] = {}
    for a, b in zip(starts, stops, strict=True):
        by_file.setdefault(int(files[a]), []).append((int(within[a]), int(within[b - 1]) + 1))

    def read(file: int) -> list[Analysis]:
        return read_frames(index.entries[file], grid, by_file[file], source=source)

    # files in corpus order; read side by side (hashing, decoding and the wavelet
    # transform release the GIL)
    with ThreadPoolExecutor(READERS) as readers:
        parts = [part for parts in readers.map(read, sorted(by_file)) for part in parts]
    from .styles import concatenate  # styles imports this module

    whole = concatenate(parts)
    return SegmentAnalysis(coeffs=whole.coeffs, sr=whole.sr, wavelet=whole.wavelet,
                           level=whole.level, hop=whole.hop, n_samples=whole.n_samples,
                           energy=whole.energy, crest=whole.crest, signal=whole.signal,
                           bands_per_octave=whole.bands_per_octave, frames=needed)
