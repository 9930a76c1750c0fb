"""Timbre targets that follow the notes: the style instrument's envelope at the pitch played.

An instrument's spectral envelope changes across its range: a violin's low G is darker than
its high E, a flute's low notes breathier. Timbre mode with ``targets = "pitch"`` gives each
content frame the band shape the style takes *at the content's notes*: the mean band shape
of the `K_NEAREST` style frames nearest to it in pitch (`profiles.frame_pitches`, octaves
kept: cosine of the semitone profiles), among the style frames of the content frame's own
state (so a real recording's textures still follow the mapping), the style transposed as a
mosaic would be so that it covers notes it never played. Averaging many frames keeps the
envelope of the instrument at that pitch and leaves out the accidents of any one frame
(which note of a chord sounded, a breath, a bow change).

Examples
--------
>>> rng = np.random.default_rng(0)
>>> content = rng.random((6, 8)); style = rng.random((50, 8))
>>> shapes = rng.standard_normal((50, 3))
>>> out = pitch_targets(content, np.zeros(6, int), style, np.zeros(50, int), shapes, k=5)
>>> out.shape
(6, 3)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .analysis import Analysis
from .errors import ParameterError
from .profiles import frame_pitches

#: Style frames averaged into each content frame's target.
K_NEAREST = 40
#: Style frames quieter than this (dB below their track's loudest frame) are not averaged:
#: the tails of silences carry no envelope of the instrument.
ACTIVE_DB = -60.0
#: Content frames compared with the style at a time (bounds the memory of the distances).
CHUNK = 512


def active_frames(energy: np.ndarray, floor_db: float = ACTIVE_DB) -> np.ndarray:
    """``(n_frames,)`` whether each frame of a track (``energy``: ``(n_frames, n_bands)``)
    is within ``floor_db`` of the track's loudest frame.

    Examples
    --------
    >>> active_frames(np.array([[1.0, 1.0], [1e-7, 0.0], [0.5, 0.0]])).tolist()
    [True, False, True]
    """
    total = np.asarray(energy, dtype=np.float64).sum(axis=1)
    if not total.size or total.max() <= 0:
        return np.zeros(total.shape, dtype=bool)
    return np.asarray(total >= total.max() * 10.0 ** (floor_db / 10.0))


def pitch_targets(content_pitches: np.ndarray, content_states: np.ndarray,
                  style_pitches: np.ndarray, style_states: np.ndarray,
                  style_shapes: np.ndarray, *, k: int = K_NEAREST) -> np.ndarray:
    """``(n_content_frames, n_bands)`` target band shapes (see the module notes).

    Parameters
    ----------
    content_pitches, style_pitches : np.ndarray
        Unit semitone profiles (`profiles.frame_pitches`) of the content frames and of the
        style frames that may be averaged (active frames only: see `active_frames`).
    content_states, style_states : np.ndarray
        The state of each content frame (`mapping.Mapping.states`) and of each style frame.
        A state with fewer than ``k`` style frames takes its neighbours from every frame.
    style_shapes : np.ndarray
        ``(n_style_frames, n_bands)`` log band shapes of the style frames.
    k : int
        Style frames averaged per content frame (fewer if the style has fewer).

    Returns
    -------
    np.ndarray
        float64 target shapes: the same inputs give the same targets. (Distances are taken
        `CHUNK` content frames at a time and rounded to 1e-5; another chunk size may still,
        rarely, round one across that step and break a tie the other way.)

    Examples
    --------
    >>> pitches = np.eye(4)  # four frames, each one semitone
    >>> shapes = np.arange(4.0)[:, None]
    >>> pitch_targets(pitches[[2]], np.zeros(1, int), pitches, np.zeros(4, int), shapes,
    ...               k=1).tolist()
    [[2.0]]
    """
    content_states = np.asarray(content_states)
    style_states = np.asarray(style_states)
    if not len(style_shapes):
        raise ValueError("pitch_targets needs at least one style frame")
    out = np.empty((len(content_pitches), style_shapes.shape[1]), dtype=np.float64)
    everywhere = np.arange(len(style_shapes))
    for state in np.unique(content_states):
        rows = np.flatnonzero(content_states == state)
        candidates = np.flatnonzero(style_states == state)
        if candidates.size < k:
            candidates = everywhere
        count = min(k, candidates.size)
        pool = np.asarray(style_pitches[candidates], dtype=np.float32)
        shapes = style_shapes[candidates]
        for first in range(0, rows.size, CHUNK):
            chunk = rows[first: first + CHUNK]
            # nearest = largest cosine; the k largest, in any order (their mean is taken)
            closeness = np.asarray(content_pitches[chunk], dtype=np.float32) @ pool.T
            # rounded so that how the product was summed cannot break a tie
            closeness = np.round(closeness, 5)
            if count < candidates.size:
                nearest = np.argpartition(-closeness, count - 1, axis=1)[:, :count]
                nearest.sort(axis=1)  # a fixed order of the sum, whatever argpartition gives
            else:
                nearest = np.broadcast_to(np.arange(count), (chunk.size, count))
            out[chunk] = shapes[nearest].mean(axis=1)
    return out


@dataclass(frozen=True)
class PitchPool:
    """The style frames that pitch targets average: their unit semitone profiles
    (`profiles.frame_pitches`), states and log band shapes, active frames only."""

    pitches: np.ndarray
    labels: np.ndarray
    shapes: np.ndarray

    @classmethod
    def of(cls, played: Sequence[Analysis], style: Analysis, labels: np.ndarray) -> PitchPool:
        """The pool of the style tracks ``played`` (the style and its transposed copies,
        concatenated in ``style``, their frames' states in ``labels``).

        Examples
        --------
        >>> from styletransfer.analysis import analyse
        >>> a = analyse(np.random.default_rng(0).standard_normal((1, 22050)), 22050, level=5)
        >>> PitchPool.of([a], a, np.zeros(a.n_frames, int)).pitches.shape
        (44, 81)
        """
        active = np.concatenate([active_frames(a.energy) for a in played])
        if not active.any():
            raise ParameterError("the style is silent: give a style with sound in it")
        pitches = np.vstack([frame_pitches(a.signal, a.sr, a.hop, a.n_frames)
                             for a in played])[active]
        return cls(pitches, np.asarray(labels)[active], style.band_shape()[active])


def targets_at_pitch(content: Analysis, pool: PitchPool, states: np.ndarray,
                     content_pitches: np.ndarray | None = None) -> np.ndarray:
    """`pitch_targets` of ``content`` (its frames in ``states``) from the style frames of
    ``pool``; ``content_pitches`` as `profiles.frame_pitches` gives them, computed from
    ``content.signal`` when not given.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> a = analyse(np.random.default_rng(0).standard_normal((1, 22050)), 22050, level=5)
    >>> pool = PitchPool.of([a], a, np.zeros(a.n_frames, int))
    >>> targets_at_pitch(a, pool, np.zeros(a.n_frames, int)).shape
    (44, 6)
    """
    if content_pitches is None:
        content_pitches = frame_pitches(content.signal, content.sr, content.hop,
                                        content.n_frames)
    return pitch_targets(content_pitches, states, pool.pitches, pool.labels, pool.shapes)
