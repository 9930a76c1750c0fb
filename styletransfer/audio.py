"""Reading, checking, resampling and writing audio.

Audio arrays are ``(n_channels, n_samples)`` float32 or float64 with an explicit sample rate;
files are read as float32, which holds every sample of a 24-bit file exactly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from .atomic import atomic_target, check_target
from .errors import ParameterError

#: File endings the tool reads (libsndfile's formats, MP3 included).
READ_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".snd", ".mp3")
#: Output containers and the sample formats each can hold.
WRITE_FORMATS = {".wav": ("PCM_16", "PCM_24", "FLOAT"), ".flac": ("PCM_16", "PCM_24")}
#: ``--subtype`` spellings accepted on the command line.
SUBTYPE_ALIASES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT", "32f": "FLOAT",
                   "pcm_16": "PCM_16", "pcm_24": "PCM_24"}
#: Output peaks are kept at or below this level (-1 dBFS).
PEAK_CEILING = 10 ** (-1 / 20)


def load(path: str | os.PathLike[str], *, sr: int | None = None) -> tuple[np.ndarray, int]:
    """Read an audio file as a checked ``(n_channels, n_samples)`` float32 array.

    Parameters
    ----------
    path : path-like
        WAV, FLAC, OGG, AIFF, AU or MP3 file.
    sr : int, optional
        Resample to this rate; by default the file's own rate is kept.

    Returns
    -------
    y : np.ndarray
        Samples, shape ``(n_channels, n_samples)``.
    sr : int
        Sample rate of ``y``.

    Raises
    ------
    ParameterError
        The file is missing, not audio, empty, silent or holds NaN/inf samples.

    Examples
    --------
    >>> y, sr = load("song.flac", sr=44100)  # doctest: +SKIP
    >>> y.shape  # doctest: +SKIP
    (2, 1323000)
    """
    path = Path(path)
    if not path.exists():
        raise ParameterError(f"{path}: no such file: check the path")
    if path.is_dir():
        raise ParameterError(f"{path}: is a folder, not an audio file: name a file")
    try:
        data, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ParameterError(
            f"{path}: not a readable audio file ({_first_line(exc)}): "
            "use WAV, FLAC, OGG, AIFF, AU or MP3"
        ) from None
    y = np.ascontiguousarray(data.T)
    check_audio(y, name=str(path))
    if sr is not None and sr != file_sr:
        y = resample(y, file_sr, sr)
        file_sr = sr
    return y, int(file_sr)


def check_audio(y: np.ndarray, *, name: str = "audio") -> None:
    """Raise `ParameterError` if ``y`` is empty, silent or not finite.

    Examples
    --------
    >>> check_audio(np.zeros((1, 10)), name="x.wav")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: x.wav: is silent (all samples are zero): ...
    """
    if y.ndim != 2:
        raise ParameterError(f"{name}: audio must be (n_channels, n_samples), got {y.shape}")
    if y.shape[1] == 0 or y.shape[0] == 0:
        raise ParameterError(f"{name}: has no samples (zero length): "
                             "give a file with audio in it")
    if not np.all(np.isfinite(y)):
        raise ParameterError(f"{name}: holds NaN or infinite samples: "
                             "repair or re-export the file")
    if not np.any(y):
        raise ParameterError(f"{name}: is silent (all samples are zero): "
                             "give audio with sound in it")


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample every channel of ``y`` from ``orig_sr`` to ``target_sr`` (soxr, high quality).

    Examples
    --------
    >>> resample(np.ones((2, 48000)), 48000, 24000).shape
    (2, 24000)
    """
    import librosa

    if orig_sr == target_sr:
        return y
    out = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="soxr_hq", axis=-1)
    return np.asarray(out, dtype=y.dtype)


def to_channels(y: np.ndarray, n_channels: int) -> np.ndarray:
    """Match ``y`` to ``n_channels``: repeat channels cyclically, or fold extra ones by averaging.

    Examples
    --------
    >>> to_channels(np.ones((1, 4)), 2).shape
    (2, 4)
    """
    have = y.shape[0]
    if have == n_channels:
        return y
    if have < n_channels:
        return y[np.arange(n_channels) % have]
    groups = np.arange(have) % n_channels
    mix = (groups[None, :] == np.arange(n_channels)[:, None]).astype(y.dtype)
    return np.asarray(mix / mix.sum(axis=1, keepdims=True) @ y)


def limit_peak(y: np.ndarray, ceiling: float = PEAK_CEILING) -> tuple[np.ndarray, float]:
    """Scale ``y`` down as a whole so that its peak is at most ``ceiling``.

    A single gain for the whole file keeps dynamics and timbre untouched
    (transparent normalisation); audio already below the ceiling is unchanged.

    Returns
    -------
    y : np.ndarray
        The scaled audio.
    gain : float
        The gain applied (1.0 when nothing was done).

    Examples
    --------
    >>> limit_peak(np.array([[2.0, -1.0]]), ceiling=1.0)
    (array([[ 1. , -0.5]]), 0.5)
    """
    peak = max(float(y.max()), -float(y.min())) if y.size else 0.0
    if peak <= ceiling:
        return y, 1.0
    gain = ceiling / peak
    return y * gain, gain


def normalise_subtype(subtype: str) -> str:
    """Map a ``--subtype`` spelling (``16``, ``24``, ``float``, ``PCM_16``...) to libsndfile's name.

    Examples
    --------
    >>> normalise_subtype("24")
    'PCM_24'
    """
    key = subtype.strip()
    if key.upper() in ("PCM_16", "PCM_24", "FLOAT"):
        return key.upper()
    if key.lower() in SUBTYPE_ALIASES:
        return SUBTYPE_ALIASES[key.lower()]
    raise ParameterError(f"--subtype {subtype!r} is unknown: use 16, 24 or float")


def check_output_path(path: str | os.PathLike[str], *, subtype: str = "PCM_16",
                      inputs: tuple[str | os.PathLike[str], ...] = (),
                      force: bool = False) -> Path:
    """Check that ``path`` may be written, before any work is done.

    Raises `ParameterError` when the ending is not ``.wav``/``.flac``, the sample format
    does not fit the container, or `check_target` refuses the path.

    Examples
    --------
    >>> check_output_path("/tmp/out.wav")
    PosixPath('/tmp/out.wav')
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise ParameterError(f"{out}: output must end in .wav or .flac")
    if subtype not in WRITE_FORMATS[suffix]:
        choices = " or ".join(s.lower().replace("pcm_", "") for s in WRITE_FORMATS[suffix])
        raise ParameterError(f"{out}: {suffix[1:].upper()} cannot hold {subtype} samples: "
                             f"use --subtype {choices}")
    return check_target(out, inputs=inputs, force=force)


def write(path: str | os.PathLike[str], y: np.ndarray, sr: int, *,
          subtype: str = "PCM_16") -> float:
    """Write ``y`` atomically (temporary file, then rename), peak-limited to -1 dBFS.

    A failure leaves no partial file behind and never touches an existing file.

    Returns
    -------
    gain : float
        The normalisation gain that was applied (see `limit_peak`).

    Examples
    --------
    >>> write("/tmp/tone.wav", np.zeros((1, 100)) + 0.1, 22050)  # doctest: +SKIP
    1.0
    """
    out = Path(path)
    fmt = "FLAC" if out.suffix.lower() == ".flac" else "WAV"
    y, gain = limit_peak(np.asarray(y))
    with atomic_target(out) as tmp:
        sf.write(str(tmp), y.T, sr, subtype=subtype, format=fmt)
    return gain


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

