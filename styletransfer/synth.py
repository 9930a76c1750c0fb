"""Sound synthesis: new audio of any length in a style, by a walk over the style's frames.

The output is a mosaic of the style's own wavelet frames (23 ms at 44.1 kHz), chosen by
a walk in the manner of an Audio Oracle: the walk follows the recording to its next
frame for a run of frames, never longer than ``max_copy``, then jumps to a place of the
style whose recent past matches the output's recent past, so that the join is heard as
a continuation. The steps:

- **Index** (`styletransfer.synth_index.StyleIndex`, once per style): every frame's
  context and its `LINKS` nearest jump targets, found by one batched k-d tree query.
- **Runs.** A run from frame s lasts ``L = 1 + G`` frames, G geometric with
  ``P(G = g) = (1 - c) c**g`` (c = ``continuity``, mean ``1 / (1 - c)``), cut to
  ``max_copy`` and to the frames playable from s; then its end is moved by up to
  `SEAM_FRAMES` to the end frame e whose nearest link is closest (smallest
  ``link_d2[e, 0]``): runs end where a smooth join exists.
- **Jumps.** From the run's last frame e, the links j of e are ranked by the distance
  between the context of j - 1 and the *output's* own context (its last frames played,
  at the index's lags), ``d_j**2 = |P(c_(j-1)) - P(c_out)|**2``; the ``candidates``
  nearest are weighted ``w_j = exp(-(d_j**2 - d_min**2) / (2 mean(d**2)))
  * T[state(e), state(j)] ** states * exp(COHERENCE_WEIGHT r_j) * (RECENT_WEIGHT if j
  lies within min_jump of a frame played in the last recent seconds)`` and one is drawn
  with probability ``w_j / sum w``. ``r_j`` is the coherence of the join: the correlation
  ``<a, b_j> / (|a| |b_j|)`` between the coefficients (all bands, all channels) that the
  crossfade into j rises over, b_j, and those the recording itself would have played
  there, a (frame e + 1): crossfades between unrelated frames lose up to 3 dB midway and
  cancel partials in antiphase; coherent joins do neither.
- **Balance** (statistic imposition). Each band's log energy, averaged over the last
  `BALANCE_SECONDS` of output (``l <- a**k l + (1 - a**k) mean(played)``,
  ``a = exp(-1 / (3 s * frame rate))``), is pulled ``balance`` of the way to the style's
  mean log energy of that band by the plan's band gains, at most +-6 dB:
  ``gain_b = exp(clip(balance (target_b - l_b), -6 dB, +6 dB) / 2)``.

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

from .audio import check_audio, working_exponent
from .errors import ParameterError
from .model import StyleModel
from .plan import RenderPlan
from .settings import Settings
from .synth_index import LINKS, StyleIndex, edge_frames
from .synth_settings import SynthSettings

__all__ = [
    "LINKS",
    "PlanChunk",
    "StyleIndex",
    "Synthesiser",
    "check_seconds",
    "chunk_plan",
    "edge_frames",
    "prepare",
    "synth",
]

#: How far (frames) a run's end may move to the end with the smoothest join.
SEAM_FRAMES = 2
#: Weight of the join's coherence in choosing a jump target (``exp(COHERENCE_WEIGHT r)``).
COHERENCE_WEIGHT = 4.0
#: Seconds over which `SynthSettings.balance` averages the output's band levels.
BALANCE_SECONDS = 3.0
#: Largest correction the balance applies, in dB.
BALANCE_LIMIT_DB = 6.0
#: Weight of a jump target played within the last ``recent`` seconds.
RECENT_WEIGHT = 0.02
#: Called with the number of frames made so far and the total.
Progress = Callable[[int, int], None]


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

    Memory is constant: the state is the place in the style, the last frames played (as
    far back as the context looks), the balance's averages, the random generator and,
    per style frame, when it was last played. Calls to `next_frames` in any chunk sizes
    give the same frames.

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
    >>> index = prepare([(style, 22050)])
    >>> a = Synthesiser(index, SynthSettings(), seed=3)
    >>> b = Synthesiser(index, SynthSettings(), seed=3)
    >>> one = [a.next_frames(5), a.next_frames(95)]
    >>> whole = b.next_frames(100)
    >>> bool(np.array_equal(np.concatenate([c.gains for c in one]), whole.gains))
    True
    """

    def __init__(self, index: StyleIndex, settings: SynthSettings, seed: int = 0) -> None:
        self.index = index
        self.settings = settings.checked()
        self.rng = np.random.default_rng(seed)
        fps = index.style.sr / index.style.hop
        self.max_run = max(1, int(settings.max_copy * fps))
        self.min_jump = round(settings.min_jump * fps)
        self.recent = round(settings.recent * fps)
        self.transitions = index.transitions ** settings.states
        self.playable = np.flatnonzero(index.room > 0)
        self.balance_decay = math.exp(-1.0 / (BALANCE_SECONDS * fps))
        self.frame = 0
        self.last_used = np.full(index.n_frames, -(2**40), dtype=np.int64)
        self.level = index.target.copy()
        self.correction = np.zeros_like(index.target)
        self.next = int(self.playable[self.rng.integers(self.playable.size)])
        self.run_first = self.next
        self.left = self._run_length(self.next)
        self.history = np.maximum(self.next - 1 - np.arange(int(index.lags.max()) + 1), 0)

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
            segments[filled: filled + k] = np.arange(self.next, self.next + k)
            gains[filled: filled + k] = np.exp(0.5 * self.correction)
            self._advance(self.next, k)
            filled += k
        return PlanChunk(start=self.frame - n, segments=segments, gains=gains,
                         states=index.labels[segments])

    def plan(self, n_samples: int, *, sources: dict[str, Any] | None = None,
             settings: dict[str, Any] | None = None) -> RenderPlan:
        """The next ``n_samples`` of the synthesis as one `RenderPlan` (mosaic, no content)."""
        chunk = self.next_frames(-(-n_samples // self.index.style.hop))
        return chunk_plan(self.index, chunk, n_samples=n_samples, sources=sources,
                          settings=settings)

    # -- the walk ------------------------------------------------------------------------
    def _advance(self, first: int, k: int) -> None:
        """Account for having played ``k`` consecutive style frames from ``first``; the
        whole run is accounted for once it ends, however the calls cut it."""
        index, last = self.index, first + k - 1
        size = self.history.size
        if k >= size:
            self.history = np.arange(last, last - size, -1)
        else:
            self.history[k:] = self.history[: size - k].copy()
            self.history[:k] = np.arange(last, first - 1, -1)
        self.frame += k
        self.next = last + 1
        self.left -= k
        if self.left == 0:  # read only when choosing where to go on from
            reach, start = self.min_jump, self.run_first
            self.last_used[max(0, start - reach): last + reach + 1] = self.frame
            played = index.log_energy[start: last + 1].mean(axis=0) + self.correction
            keep = self.balance_decay ** (last + 1 - start)
            self.level = keep * self.level + (1.0 - keep) * played

    def _jump(self) -> None:
        """Choose where the walk goes on from, and how long it follows the style there."""
        index, settings = self.index, self.settings
        current = self.next - 1
        links = index.links[current]
        links = links[links >= 0]
        if links.size == 0:
            target = int(self.playable[self.rng.integers(self.playable.size)])
        else:
            difference = index.coords[links - 1] - index.project(self.history)
            squared = np.einsum("kd,kd->k", difference, difference)
            order = np.argsort(squared, kind="stable")[: settings.candidates]
            links, squared = links[order], squared[order]
            weights = np.exp(-(squared - squared[0]) / (2 * squared.mean() + 1e-12))
            if settings.states > 0:
                weights *= self.transitions[index.labels[current], index.labels[links]]
            weights *= np.exp(COHERENCE_WEIGHT * self._coherence(links))
            weights[self.last_used[links] > self.frame - self.recent] *= RECENT_WEIGHT
            cumulative = np.cumsum(weights)
            pick = int(np.searchsorted(cumulative, self.rng.random() * cumulative[-1],
                                       side="right"))
            target = int(links[min(pick, links.size - 1)])
        self.next = self.run_first = target
        self.left = self._run_length(target)
        self.correction = self._balance_correction()

    def _coherence(self, targets: np.ndarray) -> np.ndarray:
        """Correlation of each target's crossfade region with the one of the frame that
        would have followed (see the module)."""
        joins = self.index.joins
        return np.asarray(joins[targets] @ joins[self.next], dtype=np.float64)

    def _run_length(self, start: int) -> int:
        """Frames to follow the style from ``start``: ``1 + Geometric`` (mean
        ``1 / (1 - continuity)``), at most ``max_copy``, then moved by up to `SEAM_FRAMES`
        to the end whose best jump out is the smoothest."""
        continuity = self.settings.continuity
        nominal = (self.max_run if continuity >= 1.0
                   else int(self.rng.geometric(1.0 - continuity)))
        longest = int(min(self.max_run, self.index.room[start]))
        nominal = max(1, min(nominal, longest))
        low, high = max(1, nominal - SEAM_FRAMES), min(longest, nominal + SEAM_FRAMES)
        seams = self.index.link_d2[start + low - 1: start + high, 0]
        return low + int(np.argmin(seams)) if np.isfinite(seams).any() else nominal

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
    from .styles import analyse_styles, matches
    from .transfer import analysis_grid

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
                            min_jump_seconds=synth_settings.min_jump)


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
    return round(seconds * sr)
