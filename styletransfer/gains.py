"""Band gains: from the energy of what is played to the wanted band shape (`band_gains`),
and what a plan's gains are made from, so that they can be made again at another
strength for any frames, as a live performer turns the strength (`GainRecipe`).

Every gain of a frame depends on that frame and its two neighbours only (the averaging
over three frames), always computed the same way, so the gains of a few frames made from
a recipe are the gains of the whole track at those frames, bit for bit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .analysis import ENERGY_FLOOR
from .errors import ParameterError

#: Octave share of the frame energy (dB) from which boosts are allowed in full by default,
#: and the span below it over which they fade out (see `band_gains`).
GUARD_DB, GUARD_SPAN_DB = -30.0, 30.0
#: Energy below which a frame is silence (about -300 dB): the energy floor of `band_gains`
#: never falls below it, so silent, digital-zero and denormal input gets finite gains.
SILENT_ENERGY = 1e-30
#: Frames whose gains are computed at a time: the temporaries stay bounded on long tracks,
#: and the gains are the same, bit for bit, whatever the chunks.
CHUNK_FRAMES = 16384


def band_gains(source_energy: np.ndarray, wanted_shape: np.ndarray, total: np.ndarray, *,
               max_boost_db: float, octaves: np.ndarray | None = None,
               guard_db: float = GUARD_DB) -> np.ndarray:
    """Amplitude gains taking ``source_energy`` to ``total`` energy split as ``wanted_shape``.

    Three guards keep the gains clean:

    - a band whose octave holds little of its frame's energy may be boosted less: fully from
      ``guard_db`` (-30 dB) of the frame's energy up, not at all `GUARD_SPAN_DB` (30 dB)
      below that. What such an octave holds is mostly leakage from its neighbours,
      and lifting it would only lift the transform's aliasing. Within a sounding octave,
      the quiet parts between partials may be lifted: that is the style's envelope;
    - no gain exceeds ``max_boost_db``;
    - log gains are averaged over three frames, weighted by the band's energy, so a quiet
      frame next to a loud one (the decay before an attack) takes the loud frame's gain
      instead of a boost that would exaggerate the attack.

    The gains are always finite, whatever the input: energies that are negative, NaN or
    infinite count as 0, silence (all zero, or denormal) gets gains of 1, and a frame whose
    wanted shape is not finite keeps its sound (gains of 1 before the averaging).

    Parameters
    ----------
    source_energy : np.ndarray
        ``(n_frames, n_bands)`` energy of what will be played.
    wanted_shape : np.ndarray
        ``(n_frames, n_bands)`` wanted log band shape (normalised here).
    total : np.ndarray
        ``(n_frames,)`` wanted frame energy (the content's: its dynamics are kept).
    max_boost_db : float
        Upper bound of every gain, in dB.
    octaves : np.ndarray, optional
        ``(n_bands,)`` the octave of each band (`Analysis.band_octaves`); by default each
        band is its own octave.

    Examples
    --------
    >>> g = band_gains(np.array([[1.0, 1.0]]), np.log([[0.9, 0.1]]), np.array([2.0]),
    ...                max_boost_db=24)
    >>> g.astype(float).round(3).tolist()
    [[1.342, 0.447]]
    >>> band_gains(np.zeros((1, 2)), np.zeros((1, 2)), np.zeros(1), max_boost_db=24).tolist()
    [[1.0, 1.0]]
    """
    _check_boost(max_boost_db)
    source_energy, total = np.asarray(source_energy), np.asarray(total)
    wanted_shape = np.asarray(wanted_shape)
    n_frames, n_bands = source_energy.shape
    floor = energy_floor(total, n_bands)

    def rows(low: int, high: int, context: tuple[int, int]) -> np.ndarray:
        return _gains(_energy(source_energy[low:high]), wanted_shape[low:high],
                      _energy(total[low:high]), floor=floor, max_boost_db=max_boost_db,
                      octaves=octaves, context=context, guard_db=guard_db)

    return _in_chunks(rows, n_frames, 0, n_frames, n_bands)


def _in_chunks(rows: Callable[[int, int, tuple[int, int]], np.ndarray], n_frames: int,
               start: int, stop: int, n_bands: int) -> np.ndarray:
    """The gains of frames ``start`` to ``stop`` of ``n_frames``, `CHUNK_FRAMES` at a time:
    ``rows(low, high, context)`` gives those of frames ``low`` to ``high`` less the
    ``context`` rows at either end (the neighbours the averaging needs)."""
    gains = np.empty((stop - start, n_bands), dtype=np.float32)
    for first in range(start, stop, CHUNK_FRAMES):
        last = min(first + CHUNK_FRAMES, stop)
        low, high = max(0, first - 1), min(n_frames, last + 1)
        gains[first - start: last - start] = rows(low, high, (first - low, high - last))
    return gains


def _check_boost(max_boost_db: float) -> None:
    if not math.isfinite(max_boost_db):
        raise ParameterError(f"max_boost_db {max_boost_db} is not finite: give decibels")


def energy_floor(total: np.ndarray, n_bands: int) -> float:
    """The energy added to every band before taking logs: `ENERGY_FLOOR` of the mean frame
    energy of the whole track, never below `SILENT_ENERGY`, shared by the bands."""
    return max(ENERGY_FLOOR * float(np.mean(_energy(total))), SILENT_ENERGY) / n_bands


def _gains(source_energy: np.ndarray, wanted_shape: np.ndarray, total: np.ndarray, *,
           floor: float, max_boost_db: float, octaves: np.ndarray | None,
           context: tuple[int, int], guard_db: float = GUARD_DB) -> np.ndarray:
    """`band_gains` of frames whose first ``context[0]`` and last ``context[1]`` rows are
    neighbours outside the frames wanted (used for the averaging, then dropped); where
    there is no neighbour (the track's ends) the edge frame stands in for it."""
    _check_boost(max_boost_db)
    wanted_shape = np.asarray(wanted_shape, dtype=np.float64)
    unknown = ~np.isfinite(wanted_shape).all(axis=1)
    if unknown.any():
        wanted_shape = np.where(unknown[:, None], 0.0, wanted_shape)
    share = np.exp(wanted_shape - wanted_shape.max(axis=1, keepdims=True))
    share /= share.sum(axis=1, keepdims=True)
    target = total[:, None] * share
    log_gain = 0.5 * (np.log(target + floor) - np.log(source_energy + floor))
    source_total = source_energy.sum(axis=1, keepdims=True) + floor
    octave_energy = source_energy if octaves is None else _octave_sums(source_energy, octaves)
    source_db = 10 * np.log10(octave_energy / source_total + 1e-30)
    low, high = guard_db - GUARD_SPAN_DB, guard_db
    allowed_db = max_boost_db * np.clip((source_db - low) / (high - low), 0.0, 1.0)
    log_gain = np.minimum(log_gain, allowed_db * np.log(10) / 20)
    if unknown.any():
        log_gain[unknown] = 0.0
    weight = source_energy + floor
    before, after = context
    smooth = _sum3(log_gain * weight, before, after) / _sum3(weight, before, after)
    return np.exp(smooth).astype(np.float32)


def _octave_sums(energy: np.ndarray, octaves: np.ndarray) -> np.ndarray:
    """Each band's octave energy (the sum over the bands of its octave), row by row in a
    fixed order, so a row's sums never depend on the other rows."""
    octaves = np.asarray(octaves)
    layout = _octave_layout(tuple(octaves.tolist()))
    if layout is None:  # octaves out of order: one sum per octave
        return np.stack([energy[:, octaves == octave].sum(axis=1) for octave in octaves],
                        axis=1)
    starts, index = layout
    return np.add.reduceat(energy, starts, axis=1)[:, index]


@functools.lru_cache(maxsize=16)
def _octave_layout(octaves: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray] | None:
    """Where each octave's bands start and which octave each band's sum is, for octaves
    in order (None otherwise): the same for every frame, so found once per band layout."""
    values = np.asarray(octaves)
    if np.any(np.diff(values) < 0):
        return None
    starts = np.flatnonzero(np.diff(values, prepend=values[0] - 1))
    index = np.searchsorted(values[starts], values)
    starts.setflags(write=False)
    index.setflags(write=False)
    return starts, index


def _sum3(values: np.ndarray, before: int, after: int) -> np.ndarray:
    """Each row plus the rows before and after it, for the rows between ``before`` and
    ``len - after``; a missing neighbour (no context row) is the edge row repeated."""
    padded = np.concatenate([values[:1]] * (1 - before) + [values]
                            + [values[-1:]] * (1 - after))
    return padded[:-2] + padded[1:-1] + padded[2:]


def _energy(values: np.ndarray) -> np.ndarray:
    """``values`` as float64 energies: negative, NaN and infinite values count as 0."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, 0.0)


@dataclass(frozen=True)
class GainRecipe:
    """What a plan's band gains are made from: `gains` makes them at any strength, for
    any frames, exactly as the whole plan would have them.

    The wanted shape at strength ``s`` is ``shape + s * towards`` when ``blend`` is False
    (timbre: ``towards`` is the change at strength 1, already smoothed across bands), and
    ``(1 - s) * shape + s * towards`` when it is True (mosaic: ``towards`` is the shape of
    the style frame played).

    Attributes
    ----------
    source_energy : np.ndarray
        ``(n_frames, n_bands)`` energy of what is played (the content, or the style
        frames of a mosaic).
    shape, towards : np.ndarray
        ``(n_frames, n_bands)`` log band shapes (see above).
    total : np.ndarray
        ``(n_frames,)`` the content's frame energy.
    max_boost_db : float
        Upper bound of every gain, in dB.
    octaves : np.ndarray
        ``(n_bands,)`` the octave of each band.
    blend : bool
        How ``towards`` is used (see above).
    guard_db : float
        Where boosts fade out (see `band_gains`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> energy = rng.random((40, 4))
    >>> recipe = GainRecipe.timbre(energy, np.log(energy), np.log(rng.random((40, 4))),
    ...                            np.arange(4), max_boost_db=24)
    >>> whole = recipe.gains(0.5)
    >>> bool(np.array_equal(recipe.gains(0.5, 10, 13), whole[10:13]))
    True
    >>> bool(np.allclose(recipe.gains(0.0), 1, atol=1e-6))
    True
    """

    source_energy: np.ndarray
    shape: np.ndarray
    towards: np.ndarray
    total: np.ndarray
    max_boost_db: float
    octaves: np.ndarray
    blend: bool
    guard_db: float = GUARD_DB

    @classmethod
    def timbre(cls, energy: np.ndarray, shape: np.ndarray, change: np.ndarray,
               octaves: np.ndarray, *, max_boost_db: float,
               guard_db: float = GUARD_DB) -> GainRecipe:
        """The recipe of timbre gains: the content's ``energy`` and ``shape`` moved by
        ``strength * change``."""
        return cls(_energy(energy), shape, change, _energy(energy).sum(axis=1),
                   max_boost_db, octaves, blend=False, guard_db=guard_db)

    @property
    def n_frames(self) -> int:
        return int(self.source_energy.shape[0])

    @classmethod
    def mosaic(cls, energy: np.ndarray, shape: np.ndarray, played_shape: np.ndarray,
               total: np.ndarray, octaves: np.ndarray, *, max_boost_db: float,
               guard_db: float = GUARD_DB) -> GainRecipe:
        """The recipe of mosaic gains: the played style frames' ``energy``, gained to the
        content's ``total``, their ``played_shape`` blended with the content's ``shape``."""
        return cls(_energy(energy), shape, played_shape, _energy(total), max_boost_db,
                   octaves, blend=True, guard_db=guard_db)

    @cached_property
    def floor(self) -> float:
        """The energy floor of the whole track (see `energy_floor`)."""
        return energy_floor(self.total, self.source_energy.shape[1])

    def wanted(self, strength: float, start: int, stop: int) -> np.ndarray:
        """The wanted log band shapes of frames ``start`` to ``stop`` at ``strength``."""
        shape, towards = self.shape[start:stop], self.towards[start:stop]
        if self.blend:
            return (1.0 - strength) * shape + strength * towards
        return shape + strength * towards

    def gains(self, strength: float, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(stop - start, n_bands)`` float32 gains of frames ``start`` to ``stop`` at
        ``strength``: those of the whole track, bit for bit."""
        if not 0.0 <= strength <= 1.0:
            raise ParameterError(f"strength {strength} is out of range: use 0 to 1")
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        start = max(0, min(start, stop))
        if start == stop:
            return np.empty((0, self.source_energy.shape[1]), dtype=np.float32)

        def rows(low: int, high: int, context: tuple[int, int]) -> np.ndarray:
            return _gains(self.source_energy[low:high], self.wanted(strength, low, high),
                          self.total[low:high], floor=self.floor,
                          max_boost_db=self.max_boost_db, octaves=self.octaves,
                          context=context, guard_db=self.guard_db)

        return _in_chunks(rows, self.n_frames, start, stop, self.source_energy.shape[1])
