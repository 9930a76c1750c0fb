"""Sound synthesis: new audio of any length in a style, by a walk over the style's frames.

The output is a mosaic of the style's own wavelet frames (23 ms at 44.1 kHz), chosen by
a walk in the manner of an Audio Oracle: most of the time the walk follows the recording
to its next frame (``continuity``), never for longer than ``max_copy``; then it jumps to
a place of the style whose recent past matches the output's recent past, so that the
join is heard as a continuation. The steps:

- **Index** (`StyleIndex`, once per style). Every frame's standardised features (band
  shape, crest and loudness, as the style model sees them) are averaged over three time
  scales, the frame alone, a quarter of ``context`` and ``context``, by exponential
  moving averages running forward through each track: the *context* of a frame is what
  led up to it. The contexts are reduced to at most 16 principal components and put in
  a k-d tree, so a jump costs one nearest-neighbour query, O(log N), never a scan.
- **Walk** (`Synthesiser`). The output's own context is kept the same way; after a run
  of L frames from the style it is updated in closed form from the style's moving
  averages (``x_end = e_end + a**L (x_start - e_before)``), so runs cost O(1), not O(L).
  At a jump, the ``candidates`` style frames whose context is nearest to the output's
  (and at least ``min_jump`` away from where the walk is) are weighted by
  ``exp(-(d**2 - d_min**2) / (2 mean(d**2)))``, by the style's state transitions
  ``P(state of the target | current state) ** states``, and by 1/50 if the target was
  played, or lies within ``min_jump`` of a frame played, in the last ``recent``
  seconds; one is drawn, and a run of ``1 + Geometric``
  frames starts there (mean ``1 / (1 - continuity)``, at most ``max_copy``).
- **Balance** (statistic imposition). Each band's log level, averaged over the last 3 s
  of output, is pulled ``balance`` of the way to the style's mean log level of that band
  by the plan's band gains (within +-6 dB), so that the output's spectral balance holds
  however the walk wanders.

The result is a `RenderPlan` in ``mosaic`` mode with no content (envelope 0): segments
index the style's frames, gains are the balance. The walk keeps its whole state between
calls (`Synthesiser.next_frames`), in memory that does not grow with the output, so a
synthesis can be produced in chunks of frames for as long as wanted; rendering follows
in `styletransfer.synth_render`.

Examples
--------
>>> import numpy as np
>>> from styletransfer.synth import synth
>>> rng = np.random.default_rng(0)
>>> style = rng.standard_normal((1, 3 * 22050)).astype(np.float32) * 0.1
>>> audio, plan = synth([(style, 22050)], seconds=2.0)
>>> audio.shape, plan.mode, plan.envelope
((1, 44100), 'mosaic', 0.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pywt

from .analysis import ENERGY_FLOOR, Analysis
from .audio import check_audio, working_exponent
from .errors import ParameterError
from .model import StyleModel, single_threaded
from .plan import RenderPlan
from .settings import Settings
from .synth_settings import SynthSettings

#: Dimensions the contexts are reduced to for the k-d tree.
CONTEXT_DIMS = 16
#: Weights of the three context time scales (the frame, a quarter of ``context``, all).
LAG_DECAY = 0.35
#: Lags (frames) from which the guide's past replaces the output's in a jump's query.
GUIDE_LAG = 8
#: Weight of loudness among the standardised features of a context.
LOUDNESS_WEIGHT = 3.0
#: Seconds over which `SynthSettings.balance` averages the output's band levels.
BALANCE_SECONDS = 3.0
#: Largest correction the balance applies, in dB.
BALANCE_LIMIT_DB = 6.0
#: Weight of a jump target played within the last ``recent`` seconds.
RECENT_WEIGHT = 0.02
#: Called with the number of frames made so far and the total.
Progress = Callable[[int, int], None]


def edge_frames(wavelet: str, level: int, hop: int) -> int:
    """Frames at each end of a style track whose coefficients the transform's periodic
    extension mixes with the other end: never played.

    Examples
    --------
    >>> edge_frames("sym12", 8, 1024), edge_frames("db4", 3, 256)
    (7, 2)
    """
    support = (pywt.Wavelet(wavelet).dec_len - 1) * (2**level - 1) + 1
    return int(math.ceil(support / hop)) + 1


@dataclass(frozen=True)
class StyleIndex:
    """What the walk needs of a style: its frames, states and contexts, indexed.

    Build with `StyleIndex.build`. Attributes are read-only arrays over the style's
    ``n`` frames (tracks concatenated).

    Attributes
    ----------
    style : Analysis
        The style, tracks concatenated (what the plan's segments index).
    labels : np.ndarray
        ``(n,)`` the model state of every frame.
    transitions : np.ndarray
        ``(n_states, n_states)`` the model's state transition probabilities.
    averages : np.ndarray
        ``(3, n, n_features)`` the features' moving averages on the three time scales.
    decays : np.ndarray
        ``(3,)`` the averages' per-frame decay.
    room : np.ndarray
        ``(n,)`` how many frames can be played in a row from each frame (0: not playable).
    sources : np.ndarray
        ``(m,)`` the frames the tree holds: a jump to ``sources[k] + 1`` continues from
        a context like ``sources[k]``'s.
    log_energy : np.ndarray
        ``(n, n_bands)`` log band energy of every frame.
    target : np.ndarray
        ``(n_bands,)`` the style's mean log band energy over its playable frames.
    """

    style: Analysis
    labels: np.ndarray
    transitions: np.ndarray
    averages: np.ndarray
    decays: np.ndarray
    room: np.ndarray
    sources: np.ndarray
    log_energy: np.ndarray
    target: np.ndarray
    state_shapes: np.ndarray
    tree: Any
    centre: np.ndarray
    basis: np.ndarray
    track_names: tuple[str, ...] = ()

    @classmethod
    def build(cls, analyses: Sequence[Analysis], model: StyleModel, *,
              context_seconds: float, names: Sequence[str] = ()) -> StyleIndex:
        """Index the frames of ``analyses`` (style tracks on one grid) for ``model``.

        Raises `ParameterError` when no track is long enough to play from (a few frames
        more than twice `edge_frames`).
        """
        from scipy.spatial import cKDTree

        from .transfer import concatenate

        style = concatenate(analyses)
        features = np.vstack([a.features() for a in analyses])
        labels = model.posteriors(features).argmax(axis=1).astype(np.int64)
        z = (features - model.mean_) / model.scale_
        z[:, -1] *= LOUDNESS_WEIGHT
        track = np.concatenate([np.full(a.n_frames, i) for i, a in enumerate(analyses)])
        lags = context_lags(context_seconds * style.sr / style.hop)
        starts = np.array([np.flatnonzero(track == t)[0] for t in range(len(analyses))])
        rows = np.arange(track.size)
        averages = np.stack([z[np.maximum(rows - lag, starts[track])] for lag in lags])
        decays = lags.astype(np.float64)
        edge = edge_frames(style.wavelet, style.level, style.hop)
        room = _room(track, edge)
        if not room.any():
            shortest = 2 * edge + 4
            raise ParameterError(f"the style is too short to synthesise from: give at least "
                                 f"{shortest * style.hop / style.sr:.2f} s of audio "
                                 f"({shortest} frames) in one track")
        sources = np.flatnonzero(np.roll(room, -1) > 0)  # j such that j + 1 is playable
        sources = sources[room[sources] > 0]
        contexts = _stack_scales(averages[:, sources], lags)
        centre = contexts.mean(axis=0)
        with single_threaded():
            _, _, vt = np.linalg.svd(contexts - centre, full_matrices=False)
        basis = vt[:CONTEXT_DIMS].T
        tree = cKDTree((contexts - centre) @ basis)
        floor = ENERGY_FLOOR * float(style.energy.sum(axis=1).mean()) / style.n_bands + 1e-30
        log_energy = np.log(style.energy + floor)
        target = log_energy[room > 0].mean(axis=0)
        return cls(style=style, labels=labels, transitions=model.transitions_,
                   averages=averages, decays=decays, room=room, sources=sources,
                   log_energy=log_energy, target=target,
                   state_shapes=model.shape_mean_.astype(np.float32), tree=tree,
                   centre=centre, basis=basis, track_names=tuple(names))

    @property
    def n_frames(self) -> int:
        return int(self.labels.size)

    def project(self, context: np.ndarray) -> np.ndarray:
        """A ``(3, n_features)`` context as the tree's coordinates."""
        return np.asarray((_stack_scales(context[:, None], self.decays)[0] - self.centre)
                          @ self.basis)


@dataclass(frozen=True)
class PlanChunk:
    """Frames ``start .. start + n`` of a synthesis: what an engine needs to play them.

    Attributes
    ----------
    start : int
        Number of the first frame (frames count from 0 for the whole synthesis).
    segments : np.ndarray
        ``(n,)`` int64 style frame played in each frame (indexes ``StyleIndex.style``).
    gains : np.ndarray
        ``(n, n_bands)`` float32 linear band gains.
    states : np.ndarray
        ``(n,)`` int64 style state of each frame.
    """

    start: int
    segments: np.ndarray
    gains: np.ndarray
    states: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.segments.size)


class Synthesiser:
    """The walk over a style's frames, made in chunks with all its state carried over.

    Memory is constant: the state is the place in the style, the output's context, the
    balance's averages, the random generator and, per style frame, when it was last
    played. Calls to `next_frames` in any chunk sizes give the same frames.

    Parameters
    ----------
    index : StyleIndex
        The style.
    settings : SynthSettings
        How the walk moves.
    seed : int
        Random seed: the same seed gives the same frames.

    Examples
    --------
    >>> import numpy as np
    >>> from styletransfer.synth import prepare
    >>> style = np.random.default_rng(1).standard_normal((1, 66150)).astype(np.float32)
    >>> index = prepare([(style, 22050)], sr=22050)
    >>> a = Synthesiser(index, SynthSettings(), seed=3)
    >>> b = Synthesiser(index, SynthSettings(), seed=3)
    >>> one = np.concatenate([a.next_frames(5).segments, a.next_frames(95).segments])
    >>> bool(np.array_equal(one, b.next_frames(100).segments))
    True
    """

    def __init__(self, index: StyleIndex, settings: SynthSettings, seed: int = 0) -> None:
        self.index = index
        self.settings = settings.checked()
        self.rng = np.random.default_rng(seed)
        fps = index.style.sr / index.style.hop
        self.max_run = max(1, int(settings.max_copy * fps))
        self.min_jump = int(round(settings.min_jump * fps))
        self.recent = int(round(settings.recent * fps))
        self.frame = 0
        self.last_used = np.full(index.n_frames, -(2**40), dtype=np.int64)
        self.balance_decay = math.exp(-1.0 / (BALANCE_SECONDS * fps))
        self.level = index.target.copy()
        self.phrase = max(0, int(round(settings.phrase * fps)))
        playable = np.flatnonzero(index.room > 0)
        self.guide = int(playable[self.rng.integers(playable.size)])
        self.guide_left = int(max(1, min(int(self.rng.geometric(1.0 / max(self.phrase, 1))),
                                         index.room[self.guide])))
        self.correction = np.zeros_like(index.target)
        playable = np.flatnonzero(index.room > 0)
        self.next = int(playable[self.rng.integers(playable.size)])
        self.left = self._run_length(self.next)
        self.lags = index.decays.astype(np.int64)
        self.history = np.full(int(self.lags.max()) + 1, self.next - 1, dtype=np.int64)
        self.history -= np.arange(self.history.size)
        self.history = np.maximum(self.history, 0)
        self.correction = self._balance_correction()

    def next_frames(self, n: int) -> PlanChunk:
        """The next ``n`` frames of the synthesis."""
        index = self.index
        segments = np.empty(n, dtype=np.int64)
        gains = np.empty((n, index.style.n_bands), dtype=np.float32)
        filled = 0
        while filled < n:
            if self.left == 0:
                self._jump()
            k = min(self.left, n - filled)
            run = np.arange(self.next, self.next + k)
            segments[filled: filled + k] = run
            gains[filled: filled + k] = np.exp(0.5 * self.correction)
            self._advance(run)
            filled += k
        return PlanChunk(start=self.frame - n, segments=segments, gains=gains,
                         states=index.labels[segments])

    def plan(self, n_samples: int, *, sources: dict[str, Any] | None = None,
             settings: dict[str, Any] | None = None) -> RenderPlan:
        """The next ``n_samples`` of the synthesis as one `RenderPlan` (mosaic, no content)."""
        style = self.index.style
        chunk = self.next_frames(-(-n_samples // style.hop))
        return chunk_plan(self.index, chunk, n_samples=n_samples, sources=sources,
                          settings=settings)

    # -- the walk ------------------------------------------------------------------------
    def _advance(self, run: np.ndarray) -> None:
        """Account for having played ``run`` (consecutive style frames)."""
        index, k = self.index, run.size
        first, last = int(run[0]), int(run[-1])
        self.history = np.concatenate([run[::-1][: self.history.size],
                                       self.history])[: self.history.size]
        self.last_used[run] = self.frame + np.arange(k)
        played = index.log_energy[run].mean(axis=0) + self.correction
        keep = self.balance_decay**k
        self.level = keep * self.level + (1.0 - keep) * played
        self.frame += k
        if self.phrase:
            self._move_guide(k)
        self.next = last + 1
        self.left -= k

    def _jump(self) -> None:
        """Choose where the walk goes on from, and how long it follows the style there."""
        index, settings = self.index, self.settings
        current = self.next - 1
        wanted = min(index.sources.size, 4 * settings.candidates + 8)
        query = index.averages[0, self.history[self.lags]]
        if self.phrase:
            slow = self.lags >= GUIDE_LAG
            query[slow] = index.averages[slow, self.guide - 1]
        distances, found = index.tree.query(index.project(query), k=wanted)
        distances, found = np.atleast_1d(distances), np.atleast_1d(found)
        targets = index.sources[found] + 1
        far = np.abs(targets - self.next) >= max(self.min_jump, 1)
        if self.phrase:
            far &= np.abs(targets - self.guide) >= max(self.min_jump, 1)
        targets, distances = targets[far][: settings.candidates], distances[far][
            : settings.candidates]
        if targets.size == 0:
            playable = np.flatnonzero(index.room > 0)
            target = int(playable[self.rng.integers(playable.size)])
        else:
            squared = distances**2
            weights = np.exp(-(squared - squared.min()) / (2 * squared.mean() + 1e-12))
            if settings.states > 0:
                weights *= index.transitions[index.labels[current],
                                             index.labels[targets]] ** settings.states
            reach = np.arange(-self.min_jump, self.min_jump + 1)
            near = np.clip(targets[:, None] + reach[None, :], 0, index.n_frames - 1)
            recently = self.frame - self.last_used[near].max(axis=1) < self.recent
            weights[recently] *= RECENT_WEIGHT
            weights /= weights.sum()
            target = int(targets[self.rng.choice(targets.size, p=weights)])
        self.next = target
        self.left = self._run_length(target)
        self.correction = self._balance_correction()

    def _move_guide(self, k: int) -> None:
        """Advance the guide ``k`` frames, moving it elsewhere at the end of its phrase."""
        while k > 0:
            step = min(k, self.guide_left)
            self.guide += step
            self.guide_left -= step
            k -= step
            if self.guide_left == 0:
                self._jump_guide()

    def _jump_guide(self) -> None:
        """Move the guide to a place whose context is like the guide's own."""
        index = self.index
        wanted = min(index.sources.size, 16)
        _, found = index.tree.query(index.project(index.averages[:, self.guide - 1]),
                                    k=wanted)
        targets = index.sources[np.atleast_1d(found)] + 1
        targets = targets[np.abs(targets - self.guide) >= max(self.min_jump, 1)]
        if targets.size == 0:
            playable = np.flatnonzero(index.room > 0)
            targets = playable
        self.guide = int(targets[self.rng.integers(targets.size)])
        length = int(self.rng.geometric(1.0 / self.phrase))
        self.guide_left = int(max(1, min(length, index.room[self.guide])))

    def _run_length(self, start: int) -> int:
        continuity = self.settings.continuity
        length = (self.max_run if continuity >= 1.0
                  else int(self.rng.geometric(1.0 - continuity)))
        return int(max(1, min(length, self.max_run, self.index.room[start])))

    def _balance_correction(self) -> np.ndarray:
        limit = BALANCE_LIMIT_DB * math.log(10) / 10  # in natural log of energy
        wanted = self.settings.balance * (self.index.target - (self.level - self.correction))
        return np.clip(wanted, -limit, limit)


def chunk_plan(index: StyleIndex, chunk: PlanChunk, *, n_samples: int | None = None,
               sources: dict[str, Any] | None = None,
               settings: dict[str, Any] | None = None) -> RenderPlan:
    """``chunk`` as a `RenderPlan` of its own (mosaic, envelope 0, no content).

    ``n_samples`` (at most the chunk's frames times the hop) trims the last frame.
    """
    style = index.style
    n_samples = chunk.n_frames * style.hop if n_samples is None else int(n_samples)
    return RenderPlan(mode="mosaic", sr=style.sr, n_samples=n_samples,
                      n_channels=style.n_channels, wavelet=style.wavelet, level=style.level,
                      hop=style.hop, gains=chunk.gains, segments=chunk.segments, envelope=0.0,
                      shifts=1, sources=dict(sources or {"content": None, "styles": []}),
                      settings=dict(settings or {}), bands_per_octave=style.bands_per_octave,
                      states=chunk.states, state_shapes=index.state_shapes)


def prepare(styles: Sequence[tuple[np.ndarray, int]], *, sr: int | None = None,
            n_channels: int | None = None, settings: Settings | None = None,
            synth_settings: SynthSettings | None = None, model: StyleModel | None = None,
            names: Sequence[str] | None = None) -> StyleIndex:
    """Analyse style tracks, learn (or take) their model, and index them for the walk.

    The tracks are resampled to ``sr`` (default: the first track's rate) and matched to
    ``n_channels`` (default: the first track's). A ``model`` is used when it was learnt
    on this grid, otherwise learnt again from the tracks.

    Examples
    --------
    >>> style = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32)
    >>> prepare([(style, 22050)]).style.n_channels
    2
    """
    from .transfer import analyse_styles, analysis_grid, matches

    settings = (settings or Settings()).checked()
    synth_settings = (synth_settings or SynthSettings()).checked()
    if not styles:
        raise ParameterError("the style holds no audio to synthesise from: give style audio, "
                             "or a style learnt without --no-audio")
    if model is not None:
        settings = dataclasses.replace(settings, clusters=model.n_states, seed=model.seed)
    for position, (y, _) in enumerate(styles):
        check_audio(y, name=str(names[position]) if names else f"style {position + 1}")
    sr = int(sr or styles[0][1])
    n_channels = int(n_channels or styles[0][0].shape[0])
    level, hop = analysis_grid(settings, sr)
    analyses = analyse_styles(styles, sr=sr, n_channels=n_channels, settings=settings,
                              level=level, hop=hop, names=names)
    if model is None or not matches(model, settings, sr=sr, level=level, hop=hop):
        model = StyleModel(settings.clusters, seed=settings.seed).fit(analyses)
    return StyleIndex.build(analyses, model, context_seconds=synth_settings.context,
                            names=list(names or []))


def synth(styles: Sequence[tuple[np.ndarray, int]], seconds: float, *,
          settings: Settings | None = None, synth_settings: SynthSettings | None = None,
          model: StyleModel | None = None, sr: int | None = None, engine: str = "numpy",
          sources: dict[str, Any] | None = None) -> tuple[np.ndarray, RenderPlan]:
    """``seconds`` of new audio in the style of ``styles``, and the plan that made it.

    Parameters
    ----------
    styles : sequence of (np.ndarray, int)
        Style tracks, ``(n_channels, n_samples)``, with their rates.
    seconds : float
        Length of the output.
    settings : Settings
        Analysis settings (``clusters``, ``wavelet``, ``levels``, ``bands_per_octave``,
        ``seed``: the seed of the model and of the walk).
    synth_settings : SynthSettings
        How the walk moves.
    model : StyleModel, optional
        A learnt model of the style (used when learnt on this grid).
    sr : int, optional
        Output rate (default: the first track's).
    engine : str
        ``numpy`` (chunked inverse wavelet transform) or ``sc`` (SuperCollider, offline).

    Returns
    -------
    audio : np.ndarray
        ``(n_channels, round(seconds * sr))`` float32, at the style's level (not
        peak-limited). Held in memory: for long outputs write in chunks with
        `styletransfer.synth_render.write_synth`.
    plan : RenderPlan
        The plan that was rendered.
    """
    from .synth_render import render_synth

    settings = (settings or Settings()).checked()
    synth_settings = (synth_settings or SynthSettings()).checked()
    index = prepare(styles, sr=sr, settings=settings, synth_settings=synth_settings,
                    model=model)
    n_samples = check_seconds(seconds, index.style.sr)
    exponent = working_exponent(np.concatenate([y.ravel() for y, _ in styles]))
    walker = Synthesiser(index, synth_settings, seed=settings.seed)
    records = {**settings.as_dict(), "synth": synth_settings.as_dict()}
    plan = walker.plan(n_samples, sources=sources, settings=records)
    audio = render_synth(plan, index, engine=engine)
    return np.ldexp(audio, -exponent), plan


def check_seconds(seconds: float, sr: int) -> int:
    """Samples in ``seconds`` at ``sr``; `ParameterError` unless 0.1 s to 100 hours.

    Examples
    --------
    >>> check_seconds(1.5, 22050)
    33075
    """
    numeric = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    if not numeric or not 0.1 <= seconds <= 360_000:
        raise ParameterError(f"--seconds {seconds!r} is out of range: use 0.1 to 360000 "
                             "(100 hours)")
    return int(round(seconds * sr))


def _moving_average(z: np.ndarray, track: np.ndarray, decay: float) -> np.ndarray:
    """``e_i = decay e_(i-1) + (1 - decay) z_i`` within each track (``e`` starts at ``z``)."""
    if decay == 0.0:
        return z.copy()
    from scipy.signal import lfilter

    out = np.empty_like(z)
    for number in np.unique(track):
        rows = np.flatnonzero(track == number)
        part = z[rows]
        initial = (decay * part[0])[None, :]
        out[rows] = lfilter([1.0 - decay], [1.0, -decay], part, axis=0, zi=initial)[0]
    return out


def context_lags(frames: float) -> np.ndarray:
    """Lags (frames) at which a context looks back: 0, then powers of two up to ``frames``.

    Examples
    --------
    >>> context_lags(21.5).tolist()
    [0, 1, 2, 4, 8, 16]
    """
    top = int(np.floor(np.log2(max(frames, 1.0))))
    return np.array([0] + [2**k for k in range(top + 1)], dtype=np.int64)


def _stack_scales(averages: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """``(L, n, f)`` lagged features as ``(n, L f)`` weighted contexts."""
    weights = (1.0 + np.asarray(lags, dtype=np.float64))[:, None, None] ** -LAG_DECAY
    return np.concatenate(list(averages * weights), axis=1)


def _room(track: np.ndarray, edge: int) -> np.ndarray:
    """``(n,)`` frames playable in a row from each frame, ``edge`` frames kept from each
    track's ends (the last playable frame is followed by one more real frame)."""
    room = np.zeros(track.size, dtype=np.int64)
    for number in np.unique(track):
        rows = np.flatnonzero(track == number)
        first, last = rows[0] + edge, rows[-1] - edge
        if last - first >= 4:
            room[first: last + 1] = np.arange(last - first + 1, 0, -1)
    return room
