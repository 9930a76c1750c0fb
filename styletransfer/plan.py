"""RenderPlan: the backend-neutral, time-stamped parameters of one rendering.

A plan says, for every frame of ``hop`` samples, how loud each wavelet band should be
(``gains``, linear amplitude) and, in the ``mosaic`` mode, which style frame plays there
(``segments``). Every engine consumes the same plan: the numpy engine by inverse wavelet
transform, SuperCollider engines as OSC parameters. Plans are saved as ``.npz`` (two
arrays and one JSON string; loading never runs code) and can be streamed frame by frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .analysis import BANDS_PER_OCTAVE, band_edges, band_sizes, supported_wavelets
from .archive import (
    ArraySpec,
    Source,
    check_shape,
    load_archive,
    meta_choice,
    meta_float,
    meta_int,
    save_archive,
)
from .audio import MAX_CHANNELS, SAMPLE_RATES
from .errors import ParameterError

MODES = ("identity", "timbre", "mosaic")
FORMAT_VERSION = 1
ARCHIVE_KIND = "render plan"


@dataclass(frozen=True)
class PlanFrame:
    """One frame of a plan, as a live engine receives it.

    Attributes
    ----------
    index : int
        Frame number.
    time : float
        Start of the frame in seconds from the start of the content.
    duration : float
        Frame length in seconds.
    gains : np.ndarray
        ``(n_bands,)`` linear band gains, lowest band first.
    segment : int
        Style frame to play (``mosaic``), or -1.
    """

    index: int
    time: float
    duration: float
    gains: np.ndarray
    segment: int


@dataclass(frozen=True)
class RenderPlan:
    """Time-stamped resynthesis parameters, independent of the engine that renders them.

    Attributes
    ----------
    mode : str
        ``identity``, ``timbre`` (reshape the content's bands) or ``mosaic`` (play style
        frames shaped by the content).
    sr, n_samples, n_channels : int
        Output sample rate, length and channel count.
    wavelet : str
        Wavelet of the bands.
    level, hop : int
        Decomposition depth and frame hop in samples.
    gains : np.ndarray
        ``(n_frames, n_bands)`` float32 linear band gains, lowest band first.
    segments : np.ndarray
        ``(n_frames,)`` int64 style frame per frame (``mosaic``), else all -1.
    envelope : float
        ``mosaic``: how much of the content's envelope inside each frame the bands take on
        (0: none, 1: all); unused by the other modes.
    shifts : int
        Renderings on circularly shifted transforms to average (1: one plain rendering);
        for engines whose bands alias, as the numpy engine's do.
    sources : dict
        ``{"content": path or None, "styles": [paths]}`` for engines that reload audio.
    settings : dict
        The settings that made the plan (strength, clusters, seed, ...), for the record.
    bands_per_octave : int
        Packet splits of the detail bands (see `analysis.packet_depths`).
    states : np.ndarray or None
        ``(n_frames,)`` int64, the style state each frame was mapped to most (-1: none), for
        the record and for pictures; None when not recorded.
    state_shapes : np.ndarray or None
        ``(n_states, n_bands)`` float32, the mean log band shape of each style state.

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=22050, n_samples=5000, n_channels=1, wavelet="db4",
    ...                            level=5, hop=512)
    >>> plan.n_frames, plan.n_bands, plan.frame_seconds
    (10, 6, 0.023219954648526078)
    """

    mode: str
    sr: int
    n_samples: int
    n_channels: int
    wavelet: str
    level: int
    hop: int
    gains: np.ndarray
    segments: np.ndarray
    envelope: float = 0.0
    shifts: int = 1
    sources: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    bands_per_octave: int = 1
    states: np.ndarray | None = None
    state_shapes: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ParameterError(f"plan mode {self.mode!r} is unknown: use one of {MODES}")
        n_frames = -(-self.n_samples // self.hop)
        n_bands = len(band_sizes(self.hop, self.level, self.bands_per_octave))
        if self.gains.shape != (n_frames, n_bands):
            raise ParameterError(f"plan gains have shape {self.gains.shape}, expected "
                                 f"({n_frames}, {n_bands})")
        if not 1 <= self.shifts <= 2**self.level:
            raise ParameterError(f"plan shifts {self.shifts} is outside 1..{2**self.level}")
        if not 0.0 <= self.envelope <= 1.0:
            raise ParameterError(f"plan envelope {self.envelope} is outside 0..1")
        if self.segments.shape != (n_frames,):
            raise ParameterError(f"plan segments have shape {self.segments.shape}, "
                                 f"expected ({n_frames},)")
        if (self.states is None) != (self.state_shapes is None):
            raise ParameterError("plan states and state shapes go together")
        if self.states is not None and self.state_shapes is not None:
            if self.states.shape != (n_frames,) or self.state_shapes.ndim != 2 or (
                    self.state_shapes.shape[1] != n_bands):
                raise ParameterError(f"plan states have shape {self.states.shape} and state "
                                     f"shapes {self.state_shapes.shape}, expected "
                                     f"({n_frames},) and (n_states, {n_bands})")
            if self.states.size and not -1 <= self.states.min() <= self.states.max() < len(
                    self.state_shapes):
                raise ParameterError("plan states name states that do not exist")

    @classmethod
    def identity(cls, *, sr: int, n_samples: int, n_channels: int, wavelet: str, level: int,
                 hop: int, bands_per_octave: int = 1) -> RenderPlan:
        """A plan that gives back the content unchanged (all gains 1)."""
        n_frames = -(-n_samples // hop)
        n_bands = len(band_sizes(hop, level, bands_per_octave))
        return cls(mode="identity", sr=sr, n_samples=n_samples, n_channels=n_channels,
                   wavelet=wavelet, level=level, hop=hop,
                   gains=np.ones((n_frames, n_bands), dtype=np.float32),
                   segments=np.full(n_frames, -1, dtype=np.int64),
                   bands_per_octave=bands_per_octave)

    @property
    def n_frames(self) -> int:
        return int(self.gains.shape[0])

    @property
    def n_bands(self) -> int:
        return int(self.gains.shape[1])

    @property
    def frame_seconds(self) -> float:
        return self.hop / self.sr

    @property
    def duration(self) -> float:
        return self.n_samples / self.sr

    @property
    def is_synthesis(self) -> bool:
        """Whether this is a synthesis (``styletransfer synth``): a mosaic of the style that
        names no content."""
        return (self.mode == "mosaic" and not self.sources.get("content")
                and "synth" in self.settings)

    def band_edges(self) -> np.ndarray:
        """``(n_bands, 2)`` nominal lower and upper frequency (Hz) of each band, lowest first.

        Examples
        --------
        >>> RenderPlan.identity(sr=48000, n_samples=4096, n_channels=1, wavelet="db4",
        ...                     level=2, hop=1024).band_edges().tolist()
        [[0.0, 6000.0], [6000.0, 12000.0], [12000.0, 24000.0]]
        """
        return band_edges(self.sr, self.hop, self.level, self.bands_per_octave)

    def frames(self, start: int = 0) -> Iterator[PlanFrame]:
        """Yield the frames in order, from frame ``start``: what a live engine streams."""
        seconds = self.frame_seconds
        for index in range(start, self.n_frames):
            yield PlanFrame(index=index, time=index * seconds, duration=seconds,
                            gains=self.gains[index], segment=int(self.segments[index]))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save as ``.npz``: ``gains``, ``segments`` and a JSON string ``meta``."""
        meta = {"mode": self.mode, "sr": self.sr, "n_samples": self.n_samples,
                "n_channels": self.n_channels, "wavelet": self.wavelet, "level": self.level,
                "hop": self.hop, "bands_per_octave": self.bands_per_octave,
                "envelope": self.envelope, "shifts": self.shifts, "sources": self.sources,
                "settings": self.settings}
        arrays = {"gains": self.gains, "segments": self.segments}
        if self.states is not None and self.state_shapes is not None:
            arrays.update(states=self.states, state_shapes=self.state_shapes)
        save_archive(path, ARCHIVE_KIND, FORMAT_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RenderPlan:
        """Load a plan saved by `save`.

        Every field is checked (`PLAN_ARRAYS`, the settings, and the arrays' shapes
        against them), so a damaged or hostile file raises `ParameterError`, naming the
        file and the field, before anything is rendered from it.
        """
        meta, arrays = load_archive(path, ARCHIVE_KIND, FORMAT_VERSION, PLAN_ARRAYS,
                                    hint=_HINT, optional=PLAN_RECORDS)
        where = Source(path, ARCHIVE_KIND, _HINT)
        mode = meta_choice(meta, "mode", MODES, where)
        level = meta_int(meta, "level", 1, 16, where)
        hop = meta_int(meta, "hop", 2**level, 2**20, where)
        if hop % 2**level:
            raise where.error(f"field 'hop' is {hop}, not a multiple of 2**level")
        bands_per_octave = meta_choice(meta, "bands_per_octave", BANDS_PER_OCTAVE, where,
                                       default=1)
        n_samples = meta_int(meta, "n_samples", 1, 2**40, where)
        n_frames = -(-n_samples // hop)
        n_bands = len(band_sizes(hop, level, bands_per_octave))
        check_shape(arrays["gains"], (n_frames, n_bands), "gains", where)
        check_shape(arrays["segments"], (n_frames,), "segments", where)
        segments = arrays["segments"].astype(np.int64)
        if (mode == "mosaic") != bool(segments.size and segments.min() >= 0):
            raise where.error(f"member 'segments' does not fit a {mode} plan")
        sources = meta.get("sources", {})
        styles = sources.get("styles") if isinstance(sources, dict) else None
        if (not isinstance(sources, dict)
                or not isinstance(sources.get("content"), str | None)
                or not (styles is None or (isinstance(styles, list)
                                           and all(isinstance(s, str) for s in styles)))):
            raise where.error("field 'sources' is not {content: path, styles: [paths]}")
        settings = meta.get("settings", {})
        if not isinstance(settings, dict):
            raise where.error("field 'settings' is not an object")
        meta_int(settings, "transpose", 0, 6, where, default=0)
        states, shapes = arrays.get("states"), arrays.get("state_shapes")
        if (states is None) != (shapes is None):
            raise where.error("holds one of 'states' and 'state_shapes' without the other")
        if states is not None and shapes is not None:
            check_shape(states, (n_frames,), "states", where)
            check_shape(shapes, (None, n_bands), "state_shapes", where)
            if states.size and states.max() >= len(shapes):
                raise where.error("member 'states' names states that do not exist")
            states, shapes = states.astype(np.int64), shapes.astype(np.float32)
        return cls(mode=mode, sr=meta_int(meta, "sr", *SAMPLE_RATES, where),
                   n_samples=n_samples,
                   n_channels=meta_int(meta, "n_channels", 1, MAX_CHANNELS, where),
                   wavelet=meta_choice(meta, "wavelet", supported_wavelets(), where),
                   level=level, hop=hop, gains=arrays["gains"].astype(np.float32),
                   segments=segments,
                   envelope=meta_float(meta, "envelope", 0.0, 1.0, where, default=0.0),
                   shifts=meta_int(meta, "shifts", 1, 2**level, where, default=1),
                   sources=dict(sources), settings=dict(settings),
                   bands_per_octave=bands_per_octave, states=states, state_shapes=shapes)


_HINT = "save it again with 'styletransfer run --save-plan'"
#: What each array of a saved plan must hold (the shapes are checked by `RenderPlan.load`):
#: gains are amplitudes no band boost can exceed (60 dB), segments style frames (or -1).
PLAN_ARRAYS = {"gains": ArraySpec("f", 2, 0.0, 1000.0),
               "segments": ArraySpec("iu", 1, -1, 2**40)}
#: What a plan may also hold: the style state of each frame and the states' band shapes.
PLAN_RECORDS = {"states": ArraySpec("iu", 1, -1, 63),
                "state_shapes": ArraySpec("f", 2, -1e4, 1.0)}
