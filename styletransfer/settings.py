"""Transfer settings: defaults, validation, and the names the command line uses."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from .analysis import DEFAULT_WAVELET, check_bands_per_octave, check_wavelet
from .errors import ParameterError

MODES = ("timbre", "mosaic")
#: Where timbre mode's target band shapes come from (see `Settings.targets`).
TARGETS = ("states", "frames", "pitch")


@dataclass(frozen=True)
class Settings:
    """Everything that shapes a transfer. Each field is also a ``run`` option of the same name.

    Attributes
    ----------
    mode : str
        ``timbre`` (the content's own sound, reshaped to the style's band balance) or
        ``mosaic`` (the style's sound, rearranged to follow the content).
    strength : float
        0 keeps the content's band balance, 1 takes the style's fully.
    clusters : int
        Number of style states (k-means clusters and mixture components).
    wavelet : str
        PyWavelets discrete wavelet.
    levels : int or None
        Wavelet depth (octave bands = levels + 1); None picks a depth from the sample rate.
    bands_per_octave : int
        1, 2, 4 or 8: each octave band split further into that many wavelet-packet bands
        (deep bands, whose frames hold few coefficients, are split less), so band shapes
        follow finer spectral detail: formants, not only tilt.
    seed : int
        Random seed: same inputs and seed give bit-identical output.
    smoothing : int
        Frames over which state weights are averaged (1: none).
    continuity : float
        ``mosaic`` only: cost of jumping to another place in the style (0: jump freely).
    envelope : float
        ``mosaic`` only: how closely each band follows the content's envelope inside a
        frame (0: the style's own, 1: the content's attacks and decays).
    shifts : int or None
        Renderings on shifted wavelet transforms that the numpy engine averages: 2 cancels
        the aliasing images around the top band edge for twice the transform cost, 1 is
        fastest. None: 2 in ``timbre`` mode, 1 in ``mosaic`` mode (whose gains vary little
        across bands, so it gains nothing measurable from more).
    max_boost_db : float
        Largest boost any band may get, in dB (bounds noise lifted from near-silent bands).
    pitch : float
        ``mosaic`` only: weight of matching the content's pitch classes when choosing style
        frames (0: band shape and loudness only).
    transpose : int
        ``mosaic`` only: also offer the style transposed by up to this many semitones
        either way (0: as it is).
    onset_jumps : float
        ``mosaic`` only: how much cheaper a jump to another place in the style is where the
        content has an attack (0: ``continuity`` everywhere; 1: free at the strongest
        attacks), so fragments change with the notes.
    targets : str
        ``timbre`` only: ``states`` (each content frame takes the mean band shape of the
        style states it maps to) or ``frames`` (each takes the band shape of the style
        frame that a mosaic's search would play there: the same state, loudness and, with
        ``pitch``, pitch classes, from the style ``transpose``-d as a mosaic would be), so
        the envelope follows the style instrument on the notes it plays, or ``pitch``
        (each takes the mean band shape of the style frames of its state nearest to it in
        pitch, octave included, from the style ``transpose``-d: the style instrument's
        envelope at the notes the content plays; see `pitch_targets`). A corpus model
        without its audio takes ``frames`` targets for ``pitch``.
    guard_db : float
        Share of a frame's energy (dB) that a band's octave needs for boosts in full;
        30 dB below it, boosts are withheld (see `transfer.band_gains`).

    Examples
    --------
    >>> Settings(strength=0.5).checked().strength
    0.5
    """

    mode: str = "timbre"
    strength: float = 0.8
    clusters: int = 8
    wavelet: str = DEFAULT_WAVELET
    levels: int | None = None
    bands_per_octave: int = 1
    seed: int = 0
    smoothing: int = 5
    continuity: float = 1.0
    envelope: float = 1.0
    shifts: int | None = None
    max_boost_db: float = 24.0
    pitch: float = 0.0
    transpose: int = 0
    onset_jumps: float = 0.0
    targets: str = "states"
    guard_db: float = -30.0

    def checked(self) -> Settings:
        """Return self after checking every value; raises `ParameterError` naming the option."""
        if self.mode not in MODES:
            raise ParameterError(f"--mode {self.mode!r} is unknown: use timbre or mosaic")
        _check_range("strength", self.strength, 0.0, 1.0, float)
        _check_range("clusters", self.clusters, 1, 64, int)
        if self.levels is not None:
            _check_range("levels", self.levels, 1, 16, int)
        _check_range("seed", self.seed, 0, 2**32 - 1, int)
        _check_range("smoothing", self.smoothing, 1, 200, int)
        _check_range("continuity", self.continuity, 0.0, 100.0, float)
        _check_range("envelope", self.envelope, 0.0, 1.0, float)
        if self.shifts is not None:
            _check_range("shifts", self.shifts, 1, 8, int)
        _check_range("max-boost-db", self.max_boost_db, 0.0, 60.0, float)
        _check_range("pitch", self.pitch, 0.0, 100.0, float)
        _check_range("transpose", self.transpose, 0, 6, int)
        _check_range("onset-jumps", self.onset_jumps, 0.0, 1.0, float)
        if self.targets not in TARGETS:
            raise ParameterError(f"--targets {self.targets!r} is unknown: use states, frames "
                                 "or pitch")
        _check_range("guard-db", self.guard_db, -90.0, 0.0, float)
        check_wavelet(self.wavelet)
        if isinstance(self.bands_per_octave, bool) or not isinstance(
                self.bands_per_octave, int):
            raise ParameterError(f"--bands-per-octave {self.bands_per_octave!r} is not an "
                                 "integer: use 1, 2, 4 or 8")
        check_bands_per_octave(self.bands_per_octave)
        return self

    @property
    def render_shifts(self) -> int:
        """The number of shifted renderings to average (see ``shifts``).

        Examples
        --------
        >>> Settings().render_shifts, Settings(mode="mosaic").render_shifts
        (2, 1)
        """
        if self.shifts is not None:
            return int(self.shifts)
        return 2 if self.mode == "timbre" else 1

    def updated(self, values: dict[str, Any]) -> Settings:
        """A copy with ``values`` (field name -> value) applied; None values are ignored."""
        known = {f.name for f in fields(self)}
        changes = {k: v for k, v in values.items() if v is not None and k in known}
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def field_types() -> dict[str, type]:
    """The Python type of each setting (``levels`` is ``int``), for checking presets.

    Examples
    --------
    >>> field_types()["strength"]
    <class 'float'>
    """
    return {"mode": str, "strength": float, "clusters": int, "wavelet": str, "levels": int,
            "bands_per_octave": int, "seed": int, "smoothing": int, "continuity": float,
            "envelope": float, "shifts": int, "max_boost_db": float, "pitch": float,
            "transpose": int, "onset_jumps": float, "targets": str, "guard_db": float}


def searches_style_frames(settings: Settings) -> bool:
    """Whether planning with ``settings`` reads the style's own frames (a mosaic, frames or
    pitch targets), not only its states.

    Examples
    --------
    >>> searches_style_frames(Settings()), searches_style_frames(Settings(targets="pitch"))
    (False, True)
    """
    return settings.mode == "mosaic" or settings.targets != "states"


def needs_chroma(settings: Settings) -> bool:
    """Whether planning with ``settings`` reads the content's pitch: its pitch classes
    (chroma), or its semitone profiles where `needs_pitches`.

    Examples
    --------
    >>> needs_chroma(Settings(mode="mosaic", pitch=4.0)), needs_chroma(Settings())
    (True, False)
    """
    return needs_pitches(settings) or (
        (settings.mode == "mosaic" or settings.targets == "frames") and settings.pitch > 0)


def needs_pitches(settings: Settings) -> bool:
    """Whether planning with ``settings`` reads the content's semitone profiles with their
    octave (`profiles.frame_pitches`: timbre targets that follow the notes) rather than
    its chroma.

    Examples
    --------
    >>> needs_pitches(Settings(targets="pitch")), needs_pitches(Settings(targets="frames"))
    (True, False)
    """
    return settings.mode == "timbre" and settings.targets == "pitch"


def _check_range(name: str, value: Any, low: float, high: float, kind: type) -> None:
    flag = "--" + name.replace("_", "-")
    bounds = f"from {_number(low, kind)} to {_number(high, kind)}"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if not numeric or (kind is int and isinstance(value, float) and not value.is_integer()):
        raise ParameterError(f"{flag} {_shown(value)} is not a"
                             f"{'n integer' if kind is int else ' number'}: use a value {bounds}")
    if not low <= value <= high:  # False for NaN too
        raise ParameterError(f"{flag} {_shown(value)} is out of range: use a value {bounds}")


def _number(bound: float, kind: type) -> str:
    return str(int(bound)) if kind is int else f"{bound:g}"


def _shown(value: Any) -> str:
    """``value`` for a message: at most 30 characters (a 400-digit number is cut)."""
    text = repr(value)
    return text if len(text) <= 30 else f"{text[:12]}...{text[-6:]} ({len(text)} characters)"
