"""Synthesis settings: how the walk over the style's frames moves, with defaults and checks.

The analysis settings a synthesis shares with a transfer (``clusters``, ``wavelet``,
``levels``, ``bands_per_octave``, ``seed``) stay in `styletransfer.settings.Settings`;
these are the synthesis's own. Each field is also a ``synth`` option of the same name
(``max_copy`` is ``--max-copy``) and a key of a synthesis preset's ``[synth]`` table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .settings import _check_range


@dataclass(frozen=True)
class SynthSettings:
    """What shapes a synthesis.

    Attributes
    ----------
    continuity : float
        0..1: the chance, at each frame, that the walk follows the recording to its next
        frame rather than jumps (0: a jump every frame, grains; 1: runs as long as
        ``max_copy`` allows). Runs are geometric with mean ``1 / (1 - continuity)`` frames.
    max_copy : float
        Longest run of consecutive style frames played verbatim, in seconds.
    context : float
        Seconds of the output's recent past that a jump target's past must match (the
        match weighs the last frames most, over three time scales up to this long).
    candidates : int
        Jump targets weighed at each jump (the nearest contexts): fewer is more faithful,
        more is more varied.
    min_jump : float
        Seconds: a jump lands at least this far from where the walk is in the style (no
        stutters, no near-repeats).
    recent : float
        Seconds of output during which a style frame just played is avoided as a jump
        target, so that no stretch of the style comes back soon (no audible loops).
    states : float
        Weight of the style's state transitions in choosing among jump targets: each is
        weighted by ``P(its state | the current state) ** states`` (0: context alone).
    balance : float
        0..1: statistic imposition. Band gains pull each band's level, averaged over the
        last few seconds of output, towards the style's mean level of that band (0: none,
        1: fully), so that no band drifts as the walk favours some places.

    Examples
    --------
    >>> SynthSettings(continuity=0.5).checked().max_copy
    0.25
    """

    continuity: float = 0.9
    max_copy: float = 0.25
    context: float = 1.5
    candidates: int = 8
    min_jump: float = 0.5
    recent: float = 2.0
    states: float = 0.0
    balance: float = 0.5

    def checked(self) -> SynthSettings:
        """Return self after checking every value; raises `ParameterError` naming the option."""
        _check_range("continuity", self.continuity, 0.0, 1.0, float)
        _check_range("max_copy", self.max_copy, 0.01, 60.0, float)
        _check_range("context", self.context, 0.0, 10.0, float)
        _check_range("candidates", self.candidates, 1, 64, int)
        _check_range("min_jump", self.min_jump, 0.0, 60.0, float)
        _check_range("recent", self.recent, 0.0, 600.0, float)
        _check_range("states", self.states, 0.0, 10.0, float)
        _check_range("balance", self.balance, 0.0, 1.0, float)
        return self

    def updated(self, values: dict[str, Any]) -> SynthSettings:
        """A copy with ``values`` (field name -> value) applied; None values are ignored."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in values.items() if v is not None and k in known}
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def synth_field_types() -> dict[str, type]:
    """The Python type of each synthesis setting, for checking presets.

    Examples
    --------
    >>> synth_field_types()["candidates"]
    <class 'int'>
    """
    return {f.name: (int if f.type in ("int", int) else float) for f in fields(SynthSettings)}
