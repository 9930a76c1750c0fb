"""What a live stream can switch between, and the frame table rows of a control timeline.

A `LiveSet` holds one plan per mode and style, over one content: what ``live`` planned
at the start; or, for a synthesis, a `FrameSource` that makes the frames of each style
as the stream asks for them (the plans are then one frame long: the grid and frame 0).
A `Timeline` holds the controls a performer sent, each placed at the frame it takes
effect from (strength, dry/wet mix, freeze, style, mode), and makes the frame
table rows of every chain from them (`Timeline.rows`). Each row is a function of its
frame and the controls before it only, made the same way whatever frames are asked for,
so the rows a live stream wrote a few at a time are the rows an offline render of the
same timeline reads, bit for bit (`Timeline.table`).

- **strength** makes the gains again from each plan's recipe (`GainRecipe`);
- **style** crossfades to another style's plan over `LiveSet.crossfade` frames: log
  gains are interpolated (timbre); a mosaic plays the new style's grains from the first
  frame (its grains overlap by a frame);
- **mode** crossfades between the chains of the modes planned (``st_mix`` weighs the
  second chain by the row's last value);
- **freeze** holds every chain's gains and grain start as they were the frame before;
- **mix** is the row's dry/wet value (``st_mix`` ramps it over a frame).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..analysis import Analysis
from ..errors import ParameterError
from ..gains import GainRecipe
from ..model import StyleModel
from ..plan import RenderPlan
from ..settings import MODES, Settings
from .score import ROW_EXTRA

#: Controls a timeline holds, with their ranges (style and mode: an index).
CONTROLS = ("strength", "mix", "freeze", "style", "mode")
#: Seconds over which style and mode changes crossfade, by default.
CROSSFADE_SECONDS = 0.5
#: Frames whose gains are made again together when a strength changes.
GAIN_BLOCK = 64
#: Blocks of gains kept (about 1,000 s of frames at most).
MADE_BLOCKS = 1024


class FrameSource(Protocol):
    """Frames made as a stream asks for them, in memory that does not grow: a live set's
    segments and gains when it has no whole plans (`styletransfer.supercollider.live_synth`).

    ``n_frames`` and ``n_samples`` are the stream's length; `frames` gives frames
    ``low .. high`` of a style (each asked for at most a few frames behind the newest
    asked before); `forget_before` says the frames before one were played.
    """

    n_frames: int
    n_samples: int

    def frames(self, style: int, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """``(high - low, n_bands)`` gains and ``(high - low,)`` style frames."""
        ...

    def forget_before(self, frame: int) -> None:
        ...


@dataclass(frozen=True)
class LiveSet:
    """One plan per mode and style over one content: what a live stream switches between.

    Attributes
    ----------
    plans : tuple of tuple of RenderPlan
        ``plans[mode][style]``; every plan has the content's grid and length.
    recipes : tuple of tuple of GainRecipe or None
        The recipe of each plan's gains (None: its strength cannot change).
    modes : tuple of str
        The mode of each row of plans (the first plays at the start).
    content : Analysis
        What the plans play (timbre) or follow (mosaic).
    styles : tuple of Analysis or None
        Per style, the audio its mosaic frames come from (None without mosaic).
    strength : float
        The strength the plans were made at.
    crossfade : int
        Frames over which style and mode changes crossfade.
    source : FrameSource, optional
        Where the segments and gains come from instead of the plans (a synthesis: mosaic
        plans of one frame, no content, no recipes).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=22050, n_samples=4096, n_channels=1, wavelet="db4",
    ...                            level=3, hop=512)
    >>> live = LiveSet.single(plan, None, None)
    >>> live.modes, live.n_styles, live.offsets
    (('identity',), 1, (0,))
    """

    plans: tuple[tuple[RenderPlan, ...], ...]
    recipes: tuple[tuple[GainRecipe | None, ...], ...]
    modes: tuple[str, ...]
    content: Analysis | None
    styles: tuple[Analysis | None, ...]
    strength: float
    crossfade: int = 1
    source: FrameSource | None = None

    def __post_init__(self) -> None:
        first = self.plans[0][0]
        grid = (first.sr, first.hop, first.level, first.bands_per_octave, first.n_frames,
                first.n_channels)
        for row in self.plans:
            if len(row) != self.n_styles:
                raise ParameterError("every mode needs a plan for every style")
            for plan in row:
                if (plan.sr, plan.hop, plan.level, plan.bands_per_octave, plan.n_frames,
                        plan.n_channels) != grid:
                    raise ParameterError("the plans of a live set must share one content "
                                         "and one analysis grid: plan them with one set "
                                         "of settings")
        if self.crossfade < 1:
            raise ParameterError(f"crossfade of {self.crossfade} frames: use at least 1")

    @classmethod
    def plan(cls, content: np.ndarray, sr: int,
             styles: Sequence[Sequence[tuple[np.ndarray, int]]], *,
             settings: Settings | None = None, modes: Sequence[str] | None = None,
             models: Sequence[StyleModel | None] | None = None,
             crossfade_seconds: float = CROSSFADE_SECONDS) -> LiveSet:
        """Plan ``content`` after each of ``styles`` (each a list of tracks: one style
        model each), in each of ``modes`` (default: the settings' mode alone), keeping
        every plan's recipe.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> noise = [(rng.standard_normal((1, 22050)), 22050)]
        >>> live = LiveSet.plan(rng.standard_normal((1, 22050)), 22050, [noise, noise],
        ...                     settings=Settings(clusters=3), modes=["timbre", "mosaic"])
        >>> live.modes, live.n_styles, live.crossfade
        (('timbre', 'mosaic'), 2, 22)
        """
        from ..transfer import plan_with_recipe

        settings = (settings or Settings()).checked()
        modes = tuple(modes or (settings.mode,))
        for mode in modes:
            if mode not in MODES or modes.count(mode) > 1:
                raise ParameterError(f"modes {modes} are not valid: use each of {MODES} "
                                     "at most once")
        if not styles:
            raise ParameterError("no style given: add --style FILE")
        given = list(models) if models is not None else [None] * len(styles)
        plans, recipes = [], []
        kept: list[Analysis | None] = [None] * len(styles)
        content_analysis: Analysis | None = None
        for mode in modes:
            row = [plan_with_recipe(content, sr, tracks, model=given[index],
                                    settings=replace(settings, mode=mode))
                   for index, tracks in enumerate(styles)]
            plans.append(tuple(planned.plan for planned in row))
            recipes.append(tuple(planned.recipe for planned in row))
            content_analysis = row[0].content
            if mode == "mosaic":
                kept = [planned.style for planned in row]
        crossfade = max(1, round(crossfade_seconds / plans[0][0].frame_seconds))
        return cls(tuple(plans), tuple(recipes), modes, content_analysis, tuple(kept),
                   settings.strength, crossfade)

    @classmethod
    def single(cls, plan: RenderPlan, content: Analysis | None, style: Analysis | None,
               recipe: GainRecipe | None = None) -> LiveSet:
        """A set of one plan (its strength changes only with a ``recipe``)."""
        strength = float(plan.settings.get("strength", 1.0) or 0.0)
        return cls(((plan,),), ((recipe,),), (plan.mode,), content, (style,), strength)

    @property
    def first(self) -> RenderPlan:
        """The plan that plays at the start."""
        return self.plans[0][0]

    @property
    def n_styles(self) -> int:
        return len(self.plans[0])

    @property
    def n_frames(self) -> int:
        return self.first.n_frames if self.source is None else self.source.n_frames

    @property
    def n_samples(self) -> int:
        """Samples the stream plays."""
        return self.first.n_samples if self.source is None else self.source.n_samples

    def content_signal(self) -> np.ndarray:
        """The content's audio (a frame of silence when there is none: a synthesis)."""
        if self.content is not None:
            return self.content.signal
        if self.source is None:
            raise ParameterError("a live set needs the content's analysis to play")
        return np.zeros((self.first.n_channels, self.first.hop), dtype=np.float32)

    def gains(self, chain: int, style: int, low: int, high: int) -> np.ndarray:
        """Frames ``low`` to ``high`` of the gains of ``plans[chain][style]`` (float64)."""
        if self.source is not None:
            return self.source.frames(style, low, high)[0].astype(np.float64)
        return self.plans[chain][style].gains[low:high].astype(np.float64)

    def segments(self, chain: int, style: int, low: int, high: int) -> np.ndarray:
        """Frames ``low`` to ``high`` of the style frames of ``plans[chain][style]``."""
        if self.source is not None:
            return self.source.frames(style, low, high)[1].astype(np.int64)
        return self.plans[chain][style].segments[low:high].astype(np.int64)

    @property
    def offsets(self) -> tuple[int, ...]:
        """The style frame at which each style's audio starts in `style_signal`: one
        after the other, each after a frame of silence (the first one at 0)."""
        offsets, at = [], 0
        for index, style in enumerate(self.styles):
            at += index > 0  # a frame of silence before it, for its first grain's lead-in
            offsets.append(at)
            at += style.n_frames if style is not None else 0
        return tuple(offsets)

    def style_signal(self) -> np.ndarray | None:
        """Every style's mosaic audio, one after the other as `offsets` place them (None
        without a mosaic); with one style, its audio as it is."""
        if "mosaic" not in self.modes:
            return None
        if self.n_styles == 1:
            style = self.styles[0]
            return None if style is None else style.signal
        hop = self.first.hop
        parts = []
        for index, style in enumerate(self.styles):
            if style is None:
                raise ParameterError("a mosaic needs every style's audio")
            if index:
                parts.append(np.zeros((style.signal.shape[0], hop), style.signal.dtype))
            length = style.n_frames * hop
            parts.append(np.pad(style.signal, ((0, 0), (0, length - style.signal.shape[1]))))
        return np.concatenate(parts, axis=1)


@dataclass(frozen=True)
class _State:
    """The controls in effect from `frame` on."""

    frame: int
    strength: float
    mix: float = 1.0
    frozen: int = -1  # the frame a freeze began at, or -1
    style: int = 0  # the style crossfaded to
    style_from: tuple[float, ...] = ()  # the style weights the crossfade starts from
    style_at: int = 0  # the frame it starts at
    mode: int = 0
    mode_from: float = 0.0
    mode_at: int = 0


@dataclass
class Timeline:
    """The controls of a live stream, each at the frame it takes effect from, and the
    frame table rows they make.

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=22050, n_samples=8192, n_channels=1, wavelet="db4",
    ...                            level=3, hop=512)
    >>> timeline = Timeline(LiveSet.single(plan, None, None))
    >>> timeline.add(4, "mix", 0.25)
    4
    >>> timeline.rows(0, 3, 6)[:, -2].tolist()
    [1.0, 0.25, 0.25]
    >>> timeline.events
    [(4, 'mix', 0.25)]
    """

    live: LiveSet
    events: list[tuple[int, str, float]] = field(default_factory=list)
    _states: list[_State] = field(default_factory=list)
    _frames: list[int] = field(default_factory=list)
    _frozen: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    _made: dict[tuple[int, int, float, int], np.ndarray] = field(default_factory=dict)
    _asked: set[tuple[int, int, float, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        weights = tuple(float(k == 0) for k in range(self.live.n_styles))
        self._states = [_State(0, self.live.strength, style_from=weights)]
        self._frames = [0]

    @property
    def last_frame(self) -> int:
        """The frame of the latest control (0 before any)."""
        return self._frames[-1]

    def state(self, frame: int) -> _State:
        """The controls in effect at ``frame``."""
        return self._states[max(0, bisect.bisect_right(self._frames, frame) - 1)]

    def add(self, frame: int, name: str, value: float) -> int:
        """Put a control at ``frame`` (moved to the latest control's frame if earlier:
        controls never go back in time); returns the frame it takes effect from.

        Raises `ParameterError` for a value this set cannot play (out of range, a
        strength change without recipes, a style or mode not planned).
        """
        frame = max(int(frame), self.last_frame)
        now = self.state(frame)
        change = self._change(now, frame, name, value)
        state = replace(now, frame=frame, **change)
        if self._frames[-1] == frame:
            self._states[-1] = state
        else:
            self._states.append(state)
            self._frames.append(frame)
        self.events.append((frame, name, float(value)))
        if name == "freeze" and state.frozen == frame:  # what it holds, while it is known
            for chain in range(len(self.live.plans)):
                self._frozen_values(chain, frame)
        return frame

    def _change(self, now: _State, frame: int, name: str, value: float) -> dict[str, Any]:
        live = self.live
        if name == "strength":
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"strength {value} is out of range: use 0 to 1")
            if any(recipe is None for row in live.recipes for recipe in row) and \
                    value != live.strength:
                raise ParameterError("this stream cannot change its strength: it was "
                                     "given plans without their recipes")
            return {"strength": float(value)}
        if name == "mix":
            if not 0.0 <= value <= 1.0:
                raise ParameterError(f"mix {value} is out of range: use 0 (dry) to 1 (wet)")
            return {"mix": float(value)}
        if name == "freeze":
            if value not in (0, 1):
                raise ParameterError(f"freeze {value} is not 0 or 1")
            if bool(value) == (now.frozen >= 0):
                return {}
            return {"frozen": frame if value else -1}
        if name == "style":
            if value != int(value) or not 0 <= value < live.n_styles:
                raise ParameterError(f"style {value} is not loaded: use 0 to "
                                     f"{live.n_styles - 1} (one per --style given)")
            return {"style": int(value), "style_from": tuple(self.weights(frame - 1)),
                    "style_at": frame}
        if name == "mode":
            if value != int(value) or not 0 <= value < len(live.modes):
                raise ParameterError(f"mode {value} was not planned")
            return {"mode": int(value), "mode_from": float(self.mode_weight(frame - 1)),
                    "mode_at": frame}
        raise ParameterError(f"control {name!r} is unknown: use one of {CONTROLS}")

    # per frame values

    def weights(self, frame: int) -> np.ndarray:
        """The weight of each style's gains at ``frame`` (they sum to 1)."""
        return self._weights(frame, frame + 1, self.state(frame))[0]

    def mode_weight(self, frame: int) -> float:
        """The second chain's weight at ``frame`` (0: the first mode, 1: the second)."""
        return float(self._mode_weights(frame, frame + 1, self.state(frame))[0])

    def _ramp(self, low: int, high: int, at: int) -> np.ndarray:
        """How far a crossfade begun at frame ``at`` has gone at frames ``low`` to ``high``
        (0 to 1)."""
        ramp = np.arange(low - at + 1, high - at + 1) / self.live.crossfade
        return np.minimum(np.maximum(ramp, 0.0), 1.0)  # np.clip, without its overhead

    def _weights(self, low: int, high: int, state: _State) -> np.ndarray:
        """`weights` of frames ``low`` to ``high``, all under ``state``:
        ``(high - low, n_styles)``."""
        start = np.asarray(state.style_from, dtype=np.float64)
        target = np.zeros(self.live.n_styles)
        target[state.style] = 1.0
        ramp = self._ramp(low, high, state.style_at)[:, None]
        return np.where(ramp < 1, start + (target - start) * ramp, target)

    def _mode_weights(self, low: int, high: int, state: _State) -> np.ndarray:
        """`mode_weight` of frames ``low`` to ``high``, all under ``state``."""
        ramp = self._ramp(low, high, state.mode_at)
        return state.mode_from + (float(state.mode) - state.mode_from) * ramp

    # rows

    def rows(self, chain: int, start: int, stop: int) -> np.ndarray:
        """``(stop - start, stride)`` float32 frame table rows of ``chain`` (a mode's
        index): each frame's number, gains, grain start, mix and second chain's weight."""
        stop = min(stop, self.live.n_frames)
        n_bands = self.live.plans[chain][0].n_bands
        rows = np.empty((max(0, stop - start), n_bands + ROW_EXTRA), dtype=np.float32)
        rows[:, 0] = np.arange(start, stop)
        for low, high, state in self._runs(start, stop):
            part = rows[low - start: high - start]
            if state.frozen >= 0:
                part[:, 1:2 + n_bands] = self._frozen_values(chain, state.frozen)
            else:
                part[:, 1:2 + n_bands] = self._values(chain, low, high, state)
            part[:, 2 + n_bands] = state.mix
            part[:, 3 + n_bands] = self._mode_weights(low, high, state) \
                if len(self.live.modes) > 1 else 0.0
        return rows

    def table(self, chain: int) -> np.ndarray:
        """Every row of ``chain``: what an offline render of this timeline reads."""
        return self.rows(chain, 0, self.live.n_frames)

    def forget_before(self, frame: int) -> None:
        """Drop what only frames before ``frame`` need (the stream has played them)."""
        index = bisect.bisect_right(self._frames, frame) - 1
        if index > 0:
            del self._states[:index]
            del self._frames[:index]
        if self.live.source is not None:
            self.live.source.forget_before(frame)

    def _runs(self, start: int, stop: int) -> list[tuple[int, int, _State]]:
        """The frames from ``start`` to ``stop`` cut where the controls change."""
        runs, frame = [], start
        while frame < stop:
            index = max(0, bisect.bisect_right(self._frames, frame) - 1)
            following = self._frames[index + 1] if index + 1 < len(self._frames) else stop
            end = min(stop, following)
            runs.append((frame, end, self._states[index]))
            frame = end
        return runs

    def _frozen_values(self, chain: int, frozen: int) -> np.ndarray:
        key = (chain, frozen)
        if key not in self._frozen:
            before = max(0, frozen - 1)
            self._frozen[key] = self._values(chain, before, before + 1, self.state(before))[0]
        return self._frozen[key]

    def _gains(self, chain: int, style: int, low: int, high: int,
               strength: float) -> np.ndarray:
        """Gains of frames ``low`` to ``high``: the plan's, or made again from its recipe
        at another strength. Frames of `GAIN_BLOCK` blocks not made are made alone when
        first asked for (a control's first rows, needed before its reply: a few frames
        cost less than a block) or when more blocks than are kept are asked for; asked
        again, the blocks are made whole and kept for the frames that follow. The same bits
        either way, see `GainRecipe.gains`."""
        recipe = self.live.recipes[chain][style]
        if strength == self.live.strength or recipe is None or high <= low:
            return self.live.gains(chain, style, low, high)
        first, last = low // GAIN_BLOCK, (high - 1) // GAIN_BLOCK
        keys = [(chain, style, strength, block) for block in range(first, last + 1)]
        missing = [key for key in keys if key not in self._made]
        if missing and (self._asked.isdisjoint(missing) or len(keys) > MADE_BLOCKS):
            if len(self._asked) >= MADE_BLOCKS:
                self._asked.clear()
            self._asked.update(missing)
            return recipe.gains(strength, low, high).astype(np.float64)
        if len(self._made) + len(missing) > MADE_BLOCKS:
            self._made.clear()
            missing = keys
        for key in missing:
            block = key[3]
            self._made[key] = recipe.gains(strength, block * GAIN_BLOCK,
                                           (block + 1) * GAIN_BLOCK)
        start = low - first * GAIN_BLOCK
        made = np.concatenate([self._made[key] for key in keys])
        return made[start: start + high - low].astype(np.float64)

    def _values(self, chain: int, low: int, high: int, state: _State) -> np.ndarray:
        """The gains and grain start of frames ``low`` to ``high`` in ``chain`` (unfrozen),
        all under ``state``."""
        live = self.live
        if live.modes[chain] == "mosaic":  # the target style's grains, at once
            gains = self._gains(chain, state.style, low, high, state.strength)
            hop = live.first.hop
            frames = live.segments(chain, state.style, low, high) + live.offsets[state.style]
            return np.column_stack([gains, np.maximum(0, frames * hop - hop // 2)])
        weights = self._weights(low, high, state)
        used = [int(k) for k in np.flatnonzero(weights.max(axis=0) > 0)]
        each = {k: self._gains(chain, k, low, high, state.strength) for k in used}
        if len(used) == 1:
            gains = each[used[0]]
        else:
            logs = [weights[:, k, None] * np.log(np.maximum(each[k], 1e-12)) for k in used]
            gains = np.exp(np.sum(logs, axis=0))
            whole = weights.max(axis=1) == 1.0  # frames past the crossfade: one plan exactly
            if whole.any():
                for k in used:
                    only = whole & (weights[:, k] == 1.0)
                    gains[only] = each[k][only]
        return np.column_stack([gains, np.zeros(high - low)])
