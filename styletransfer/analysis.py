"""Wavelet analysis: coefficient bands and frame-level features.

A track is split by the discrete wavelet transform (PyWavelets, periodic extension) into
``level + 1`` octave bands, lowest first: the approximation ``a_L``, then the details
``d_L ... d_1``. The signal is padded to a whole number of frames of ``hop`` samples
(a multiple of ``2**level``), so every frame owns exactly ``hop / 2**j`` coefficients of
band ``d_j``: features and gains line up with the coefficients without resampling.

With ``bands_per_octave`` above 1, each detail band is split further by a wavelet packet
tree (the same wavelet applied to the band's coefficients) into equal parts of its
octave, lowest first, as long as every part keeps at least `MIN_COEFFS_PER_FRAME`
coefficients per frame; deep bands, whose frames hold few coefficients, are split less.
The packet transform is orthogonal too, so rendering stays exact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pywt

from .errors import ParameterError

#: Default wavelet; see the README for the measurements behind it.
DEFAULT_WAVELET = "sym12"
#: The lowest band's upper edge is kept near this frequency when ``level`` is automatic.
LOWEST_BAND_HZ = 86.0
#: Frames last about this long when ``hop`` is automatic.
FRAME_SECONDS = 0.0232
#: Relative floor (-80 dB) below the mean frame energy, so silent frames stay finite.
ENERGY_FLOOR = 1e-8

#: Fewest coefficients per frame a packet-split band keeps: a band is split no further
#: than its frame's coefficients allow.
MIN_COEFFS_PER_FRAME = 1
#: Allowed ``bands_per_octave`` values.
BANDS_PER_OCTAVE = (1, 2, 4, 8)

_INEXACT = ("dmey",)
# PyWavelets releases the GIL, so channels are transformed side by side.
_POOL = ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1)))


def supported_wavelets() -> list[str]:
    """Names of the wavelets analysis accepts: PyWavelets' discrete wavelets that reconstruct
    perfectly (all but ``dmey``, a truncated approximation of the Meyer wavelet).

    Examples
    --------
    >>> "db4" in supported_wavelets(), "dmey" in supported_wavelets()
    (True, False)
    """
    return [name for name in pywt.wavelist(kind="discrete") if name not in _INEXACT]


def check_wavelet(name: str) -> str:
    """Return ``name`` if it is a supported wavelet, else raise `ParameterError`.

    Examples
    --------
    >>> check_wavelet("sym8")
    'sym8'
    """
    if name not in supported_wavelets():
        families = ", ".join(f + "N" if f not in ("haar", "dmey") else f
                             for f in pywt.families(short=True) if f not in
                             ("gaus", "mexh", "morl", "cgau", "shan", "fbsp", "cmor", "dmey"))
        raise ParameterError(f"--wavelet {name!r} is unknown: use a discrete wavelet such as "
                             f"db4, sym8 or coif3 (families: {families})")
    return name


def default_level(sr: int) -> int:
    """The decomposition depth whose lowest band ends near 86 Hz.

    Examples
    --------
    >>> default_level(44100), default_level(22050)
    (8, 7)
    """
    return int(np.clip(round(np.log2(sr / 2 / LOWEST_BAND_HZ)), 1, 12))


def default_hop(sr: int, level: int) -> int:
    """Frame hop in samples: the power of two nearest to 23 ms, and at least ``2**level``.

    Examples
    --------
    >>> default_hop(44100, 8), default_hop(22050, 7)
    (1024, 512)
    """
    hop = 2 ** round(float(np.log2(sr * FRAME_SECONDS)))
    return int(max(hop, 2**level))


@dataclass(frozen=True)
class Analysis:
    """Wavelet bands and frame features of one track.

    Attributes
    ----------
    coeffs : list of np.ndarray
        Bands lowest first, each ``(n_channels, n_frames * hop // 2**j)``.
    sr, wavelet, level, hop : analysis settings.
    n_samples : int
        Length of the track before padding.
    energy : np.ndarray
        ``(n_frames, n_bands)`` band energy per frame, summed over channels.
    signal : np.ndarray
        The analysed audio itself, ``(n_channels, n_samples)`` (a reference, not a copy).
    crest : np.ndarray
        ``(n_frames, n_bands)`` log crest factor of each band inside each frame: log of peak
        power over mean power (0 for a steady band, large for a click or a burst).
    bands_per_octave : int
        Packet splits of the detail bands (see `packet_depths`); 1: plain octave bands.
    """

    coeffs: list[np.ndarray]
    sr: int
    wavelet: str
    level: int
    hop: int
    n_samples: int
    energy: np.ndarray
    crest: np.ndarray
    signal: np.ndarray
    bands_per_octave: int = 1

    @property
    def n_channels(self) -> int:
        return int(self.coeffs[0].shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.energy.shape[0])

    @property
    def n_bands(self) -> int:
        return len(self.coeffs)

    def band_sizes(self) -> list[int]:
        """Coefficients per frame in each band (lowest band first)."""
        return band_sizes(self.hop, self.level, self.bands_per_octave)

    def band_octaves(self) -> np.ndarray:
        """``(n_bands,)`` the octave band each band belongs to (see `band_octaves`)."""
        return band_octaves(self.hop, self.level, self.bands_per_octave)

    def loudness(self) -> np.ndarray:
        """``(n_frames,)`` log of the frame energy (natural log, floored at -80 dB)."""
        total = self.energy.sum(axis=1)
        return np.asarray(np.log(total + _floor(total)))

    def band_shape(self) -> np.ndarray:
        """``(n_frames, n_bands)`` log share of each band in the frame energy (loudness removed)."""
        total = self.energy.sum(axis=1, keepdims=True)
        floor = _floor(total)
        return np.asarray(np.log(self.energy + floor / self.n_bands) - np.log(total + floor))

    def features(self) -> np.ndarray:
        """``(n_frames, 2 * n_bands + 1)`` frame features: band shape, crest, loudness.

        Examples
        --------
        >>> a = analyse(np.random.default_rng(0).standard_normal((1, 8192)), 22050)
        >>> a.features().shape
        (16, 17)
        """
        return np.hstack([self.band_shape(), self.crest, self.loudness()[:, None]])


def packet_depths(hop: int, level: int, bands_per_octave: int = 1) -> list[int]:
    """Packet-tree depth of each octave band, lowest first (each splits into ``2**depth``).

    The approximation is never split; a detail band is split ``log2(bands_per_octave)``
    times, or fewer where its parts would keep under `MIN_COEFFS_PER_FRAME` coefficients a
    frame.

    Examples
    --------
    >>> packet_depths(1024, 8, 4)
    [0, 2, 2, 2, 2, 2, 2, 2, 2]
    >>> packet_depths(1024, 8, 8)
    [0, 2, 3, 3, 3, 3, 3, 3, 3]
    """
    wanted = int(bands_per_octave).bit_length() - 1
    depths = [0]
    for j in range(level, 0, -1):
        per_frame, depth = hop >> j, 0
        while depth < wanted and (per_frame >> (depth + 1)) >= MIN_COEFFS_PER_FRAME:
            depth += 1
        depths.append(depth)
    return depths


def band_sizes(hop: int, level: int, bands_per_octave: int = 1) -> list[int]:
    """Coefficients per frame of each band, lowest band first.

    Examples
    --------
    >>> band_sizes(1024, 3)
    [128, 128, 256, 512]
    >>> band_sizes(1024, 3, bands_per_octave=2)
    [128, 64, 64, 128, 128, 256, 256]
    """
    octave_sizes = [hop >> level] + [hop >> j for j in range(level, 0, -1)]
    return [size >> depth
            for size, depth in zip(octave_sizes, packet_depths(hop, level, bands_per_octave),
                                   strict=True)
            for _ in range(2**depth)]


def band_octaves(hop: int, level: int, bands_per_octave: int = 1) -> np.ndarray:
    """``(n_bands,)`` the octave band (0: the approximation) each band belongs to.

    Examples
    --------
    >>> band_octaves(1024, 2, bands_per_octave=2).tolist()
    [0, 1, 1, 2, 2]
    """
    depths = packet_depths(hop, level, bands_per_octave)
    return np.concatenate([np.full(2**depth, octave)
                           for octave, depth in enumerate(depths)]).astype(np.int64)


def band_edges(sr: int, hop: int, level: int, bands_per_octave: int = 1) -> np.ndarray:
    """``(n_bands, 2)`` nominal lower and upper frequency (Hz) of each band, lowest first.

    A packet-split octave is cut into equal parts (in Hz).

    Examples
    --------
    >>> band_edges(48000, 1024, 2).tolist()
    [[0.0, 6000.0], [6000.0, 12000.0], [12000.0, 24000.0]]
    >>> band_edges(48000, 1024, 1, bands_per_octave=2).tolist()
    [[0.0, 12000.0], [12000.0, 18000.0], [18000.0, 24000.0]]
    """
    nyquist = sr / 2
    edges = [(0.0, nyquist / 2.0**level)]
    for j, depth in zip(range(level, 0, -1), packet_depths(hop, level, bands_per_octave)[1:],
                        strict=True):
        low, width = nyquist / 2.0**j, nyquist / 2.0**j / 2**depth
        edges += [(low + k * width, low + (k + 1) * width) for k in range(2**depth)]
    return np.array(edges)


def analyse(y: np.ndarray, sr: int, *, wavelet: str = DEFAULT_WAVELET, level: int | None = None,
            hop: int | None = None, bands_per_octave: int = 1,
            name: str = "audio") -> Analysis:
    """Decompose ``y`` into wavelet bands and compute frame features.

    Parameters
    ----------
    y : np.ndarray
        ``(n_channels, n_samples)`` audio.
    sr : int
        Sample rate.
    wavelet : str
        A discrete PyWavelets wavelet name.
    level : int, optional
        Decomposition depth (bands = level + 1); by default `default_level`.
    hop : int, optional
        Frame hop in samples, a multiple of ``2**level``; by default `default_hop`.
    bands_per_octave : int
        1, 2, 4 or 8: packet splits of each detail band (see `packet_depths`).
    name : str
        What to call ``y`` in error messages (a file name, say).

    Returns
    -------
    Analysis

    Examples
    --------
    >>> y = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050)[None, :]
    >>> a = analyse(y, 22050, wavelet="db4", level=6)
    >>> a.n_bands, a.hop, a.n_frames
    (7, 512, 44)
    """
    check_wavelet(wavelet)
    level = default_level(sr) if level is None else int(level)
    if not 1 <= level <= 16:
        raise ParameterError(f"--levels {level} is out of range: use 1 to 16")
    hop = default_hop(sr, level) if hop is None else int(hop)
    if hop <= 0 or hop % (2**level):
        raise ParameterError(f"hop {hop} must be a positive multiple of 2**levels = {2**level}")
    n_samples = y.shape[1]
    if n_samples < hop:
        raise ParameterError(
            f"{name}: {n_samples} samples is shorter than one analysis frame "
            f"({hop} samples = {1000 * hop / sr:.0f} ms): give a longer file or fewer --levels"
        )
    check_bands_per_octave(bands_per_octave)
    n_frames = -(-n_samples // hop)
    coeffs = decompose(y, wavelet=wavelet, level=level, hop=hop,
                       bands_per_octave=bands_per_octave)
    sizes = band_sizes(hop, level, bands_per_octave)
    frame_power = [np.einsum("cn,cn->n", c, c).reshape(n_frames, m)
                   for c, m in zip(coeffs, sizes, strict=True)]
    energy = np.stack([p.sum(axis=1, dtype=np.float64) for p in frame_power], axis=1)
    crest = np.stack([_log_crest(p) for p in frame_power], axis=1).astype(np.float64)
    return Analysis(coeffs=coeffs, sr=int(sr), wavelet=wavelet, level=level, hop=hop,
                    n_samples=n_samples, energy=energy, crest=crest, signal=y,
                    bands_per_octave=int(bands_per_octave))


def check_bands_per_octave(value: int) -> int:
    """Return ``value`` if it is one of `BANDS_PER_OCTAVE`, else raise `ParameterError`.

    Examples
    --------
    >>> check_bands_per_octave(4)
    4
    """
    if value not in BANDS_PER_OCTAVE:
        raise ParameterError(f"--bands-per-octave {value!r} is not supported: use one of "
                             f"{', '.join(map(str, BANDS_PER_OCTAVE))}")
    return int(value)


def decompose(y: np.ndarray, *, wavelet: str, level: int, hop: int, shift: int = 0,
              bands_per_octave: int = 1) -> list[np.ndarray]:
    """Wavelet bands of ``y`` padded to whole frames, optionally circularly shifted first.

    Parameters
    ----------
    y : np.ndarray
        ``(n_channels, n_samples)`` audio.
    wavelet, level, hop :
        As for `analyse` (no defaults here: the caller has chosen them).
    shift : int
        Samples by which the padded signal is rotated before the transform; `synthesise`
        with the same ``shift`` rotates back. Averaging renderings over shifts cancels the
        aliasing that band gains cause in a critically sampled transform.
    bands_per_octave : int
        Packet splits of the detail bands (see `packet_depths`).

    Examples
    --------
    >>> y = np.random.default_rng(2).standard_normal((1, 1000))
    >>> bands = decompose(y, wavelet="db4", level=3, hop=256, shift=1)
    >>> bool(np.allclose(synthesise(bands, wavelet="db4", n_samples=1000, shift=1), y))
    True
    """
    n_samples = y.shape[1]
    n_frames = -(-n_samples // hop)
    padded = np.pad(y, ((0, 0), (0, n_frames * hop - n_samples)), mode="symmetric")
    if shift:
        padded = np.roll(padded, shift, axis=1)
    per_channel = list(_POOL.map(lambda ch: _wavedec(ch, wavelet, level), padded))
    octaves = [np.stack(band) for band in zip(*per_channel, strict=True)]
    if bands_per_octave == 1:
        return octaves
    depths = packet_depths(hop, level, bands_per_octave)
    return [part for band, depth in zip(octaves, depths, strict=True)
            for part in _split_band(band, wavelet, depth, flipped=True)]


def band_energy(y: np.ndarray, *, wavelet: str, level: int, hop: int,
                bands_per_octave: int = 1) -> np.ndarray:
    """``(n_frames, n_bands)`` band energy per frame of ``y``, channels summed: the
    `Analysis.energy` of `analyse`, without the other features.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((2, 2000))
    >>> band_energy(y, wavelet="db4", level=3, hop=256).shape
    (8, 4)
    """
    bands = decompose(y, wavelet=wavelet, level=level, hop=hop,
                      bands_per_octave=bands_per_octave)
    n_frames = -(-y.shape[1] // hop)
    return np.stack([np.einsum("cn,cn->n", band, band).reshape(n_frames, -1)
                     .sum(axis=1, dtype=np.float64) for band in bands], axis=1)


def synthesise(coeffs: list[np.ndarray], *, wavelet: str, n_samples: int, shift: int = 0,
               depths: Sequence[int] | None = None) -> np.ndarray:
    """Inverse wavelet transform of bands laid out as `decompose` makes them, trimmed to length.

    ``depths`` (`packet_depths` of the analysis grid) says how far each octave band was
    split into packet bands; None: the bands are octave bands.

    Examples
    --------
    >>> y = np.random.default_rng(1).standard_normal((2, 3001))
    >>> a = analyse(y, 22050, wavelet="db4", level=5)
    >>> bool(np.allclose(synthesise(a.coeffs, wavelet="db4", n_samples=3001), y))
    True
    """
    if depths is not None:
        merged, start = [], 0
        for depth in depths:
            parts = coeffs[start: start + 2**depth]
            merged.append(_merge_band(parts, wavelet, flipped=True))
            start += 2**depth
        coeffs = merged
    channels = list(_POOL.map(lambda ch: _waverec([band[ch] for band in coeffs], wavelet),
                              range(coeffs[0].shape[0])))
    out = np.stack(channels)
    if shift:
        out = np.roll(out, -shift, axis=1)
    return out[:, :n_samples]


def _wavedec(x: np.ndarray, wavelet: str, level: int) -> list[np.ndarray]:
    """Multilevel DWT with periodic extension, bands lowest first (as `pywt.wavedec`).

    Written as single-level steps because periodic extension stays exact at any depth,
    where `pywt.wavedec` would warn about deep levels on short signals.
    """
    details = []
    approximation = x
    for _ in range(level):
        approximation, detail = pywt.dwt(approximation, wavelet, mode="periodization")
        details.append(detail)
    return [approximation, *details[::-1]]


def _waverec(bands: list[np.ndarray], wavelet: str) -> np.ndarray:
    """Inverse of `_wavedec`."""
    approximation = bands[0]
    for detail in bands[1:]:
        approximation = pywt.idwt(approximation, detail, wavelet, mode="periodization")
    return np.asarray(approximation)


def _split_band(band: np.ndarray, wavelet: str, depth: int,
                flipped: bool) -> list[np.ndarray]:
    """Packet parts of ``band`` (last axis) ``depth`` levels deep, lowest frequency first.

    A high-pass output holds its frequencies mirrored (``flipped``): its low-pass child is
    the upper half, and the children's own orientation follows the Gray code order.
    """
    if depth == 0:
        return [band]
    low, high = pywt.dwt(band, wavelet, mode="periodization", axis=-1)
    if flipped:
        return [*_split_band(high, wavelet, depth - 1, False),
                *_split_band(low, wavelet, depth - 1, True)]
    return [*_split_band(low, wavelet, depth - 1, False),
            *_split_band(high, wavelet, depth - 1, True)]


def _merge_band(parts: list[np.ndarray], wavelet: str, flipped: bool) -> np.ndarray:
    """Inverse of `_split_band`."""
    if len(parts) == 1:
        return parts[0]
    half = len(parts) // 2
    lower = _merge_band(parts[:half], wavelet, False)
    upper = _merge_band(parts[half:], wavelet, True)
    low, high = (upper, lower) if flipped else (lower, upper)
    return np.asarray(pywt.idwt(low, high, wavelet, mode="periodization", axis=-1))


def _log_crest(frame_power: np.ndarray) -> np.ndarray:
    """Log of peak over mean power in each row (frame), floored relative to the band."""
    if frame_power.shape[1] == 1:
        return np.zeros(frame_power.shape[0])
    floor = _floor(frame_power)
    return np.asarray(np.log(frame_power.max(axis=1) + floor)
                      - np.log(frame_power.mean(axis=1) + floor))


def _floor(values: np.ndarray) -> float:
    mean = float(np.mean(values)) if values.size else 0.0
    return max(mean * ENERGY_FLOOR, 1e-30)
