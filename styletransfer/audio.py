"""Reading, checking, resampling and writing audio.

Audio arrays are ``(n_channels, n_samples)`` float32 or float64 with an explicit sample rate;
files are read as float32, which holds every sample of a 24-bit file exactly.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from .atomic import atomic_target, check_target
from .errors import InternalError, ParameterError
from .paths import regular_file

#: File endings the tool reads (libsndfile's formats, MP3 included).
READ_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".au", ".snd", ".mp3")
#: Output containers and the sample formats each can hold.
WRITE_FORMATS = {".wav": ("PCM_16", "PCM_24", "FLOAT"), ".flac": ("PCM_16", "PCM_24")}
#: ``--subtype`` spellings accepted on the command line.
SUBTYPE_ALIASES = {"16": "PCM_16", "24": "PCM_24", "float": "FLOAT", "32f": "FLOAT",
                   "pcm_16": "PCM_16", "pcm_24": "PCM_24"}
#: Output peaks are kept at or below this level (-1 dBFS).
PEAK_CEILING = 10 ** (-1 / 20)
#: Bits of the integer sample formats.
PCM_BITS = {"PCM_16": 16, "PCM_24": 24}
#: Sample rates (Hz) accepted for every input, and for ``--sr``.
SAMPLE_RATES = (1000, 768000)
#: Most channels an input may have.
MAX_CHANNELS = 64
#: What FLAC holds at most: channels and sample rate.
FLAC_LIMITS = (8, 655350)


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
        As `read`, and for audio that is empty, silent, constant or holds NaN/inf samples.

    Examples
    --------
    >>> y, sr = load("song.flac", sr=44100)  # doctest: +SKIP
    >>> y.shape  # doctest: +SKIP
    (2, 1323000)
    """
    y, file_sr = read(path)
    check_audio(y, name=str(path))
    if sr is not None and sr != file_sr:
        y = resample(y, file_sr, sr)
        file_sr = sr
    return y, file_sr


def read(path: str | os.PathLike[str]) -> tuple[np.ndarray, int]:
    """Read an audio file as it is: ``(n_channels, n_samples)`` float32 and its rate.

    Raises `ParameterError` for a file that is missing, not a regular file (`regular_file`),
    not audio, or claims a sample rate outside `SAMPLE_RATES` or more than `MAX_CHANNELS`
    channels, before its samples are read. The samples themselves are not checked.

    Examples
    --------
    >>> read("song.flac")[1]  # doctest: +SKIP
    44100
    """
    path = regular_file(path)
    try:
        with sf.SoundFile(str(path)) as handle:
            file_sr, channels = int(handle.samplerate), int(handle.channels)
            check_rate(file_sr, name=str(path))
            if channels > MAX_CHANNELS:
                raise ParameterError(f"{path}: has {channels} channels; at most "
                                     f"{MAX_CHANNELS} are read: mix it down first")
            data = handle.read(dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise ParameterError(
            f"{path}: not a readable audio file ({_first_line(exc)}): "
            "use WAV, FLAC, OGG, AIFF, AU or MP3"
        ) from None
    return np.ascontiguousarray(data.T), file_sr


def check_rate(sr: int, *, name: str) -> int:
    """Return ``sr`` if it lies in `SAMPLE_RATES`, else raise `ParameterError`.

    Examples
    --------
    >>> check_rate(1, name="x.wav")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: x.wav: a sample rate of 1 Hz is out of range: ...
    """
    low, high = SAMPLE_RATES
    if not low <= sr <= high:
        raise ParameterError(f"{name}: a sample rate of {sr} Hz is out of range: use {low} "
                             f"to {high} Hz")
    return sr


def working_exponent(y: np.ndarray) -> int:
    """The power of two that brings the peak of ``y`` near 1 when it lies beyond
    2**-20..2**20 (about -120 to +120 dBFS); else 0.

    Audio that quiet or that loud is legal (float files hold it) but would put the
    analysis's energies near the limits of floating point; scaled by a power of two
    (``np.ldexp(y, exponent)``, which is exact), it is styled like any other, and the
    result is scaled back.

    Examples
    --------
    >>> working_exponent(np.array([[1e-30]])), working_exponent(np.array([[0.5]]))
    (100, 0)
    """
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak == 0.0 or 2.0**-20 <= peak <= 2.0**20:
        return 0
    return -round(float(np.log2(peak)))


def check_audio(y: np.ndarray, *, name: str = "audio") -> None:
    """Raise `ParameterError` if ``y`` is empty, silent, constant or not finite.

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
    if np.all(y == y[:, :1]):
        raise ParameterError(f"{name}: is constant (DC, every sample of a channel the "
                             "same): give audio with sound in it")


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
    if str(path).endswith(os.sep) or out.is_dir():
        raise ParameterError(f"{path}: is a folder: name a file in it (e.g. "
                             f"{out / 'NAME.wav'})")
    suffix = out.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise ParameterError(f"{out}: output must end in .wav or .flac")
    if subtype not in WRITE_FORMATS[suffix]:
        choices = " or ".join(s.lower().replace("pcm_", "") for s in WRITE_FORMATS[suffix])
        raise ParameterError(f"{out}: {suffix[1:].upper()} cannot hold {subtype} samples: "
                             f"use --subtype {choices}")
    return check_target(out, inputs=inputs, force=force)


def check_output_format(path: str | os.PathLike[str], *, n_channels: int, sr: int) -> None:
    """Raise `ParameterError` if the container of ``path`` cannot hold ``n_channels`` at ``sr``.

    Examples
    --------
    >>> check_output_format("out.flac", n_channels=9, sr=44100)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: out.flac: FLAC holds at most 8 channels, not 9: ...
    """
    if Path(path).suffix.lower() != ".flac":
        return
    channels, rate = FLAC_LIMITS
    if n_channels > channels:
        raise ParameterError(f"{path}: FLAC holds at most {channels} channels, not "
                             f"{n_channels}: write a .wav")
    if sr > rate:
        raise ParameterError(f"{path}: FLAC holds at most {rate} Hz, not {sr} Hz: write a .wav")


def check_result(y: np.ndarray) -> None:
    """Raise `InternalError` unless ``y`` is sound audio to write: finite and not constant.

    A result of NaN, infinite or constant samples (silence, or DC that would be written at
    full scale) is a fault of the tool, never something to play.

    Examples
    --------
    >>> check_result(np.full((1, 4), np.nan))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.InternalError: the result holds 4 NaN or infinite samples: ...
    """
    bad = int(y.size - np.count_nonzero(np.isfinite(y)))
    if bad:
        raise InternalError(f"the result holds {bad} NaN or infinite samples: nothing was "
                            "written")
    if y.size and float(y.max()) == float(y.min()):
        raise InternalError(f"the result is constant ({float(y.flat[0]):g} in every sample): "
                            "nothing was written")


def write(path: str | os.PathLike[str], y: np.ndarray, sr: int, *,
          subtype: str = "PCM_16", force: bool = True) -> float:
    """Write ``y`` atomically (temporary file, then rename), peak-limited to -1 dBFS.

    A failure leaves no partial file behind; without ``force`` an existing file, even one
    that appeared while the work ran, is never replaced (`ParameterError`).

    Returns
    -------
    gain : float
        The normalisation gain that was applied (see `limit_peak`).

    Examples
    --------
    >>> write("/tmp/tone.wav", 0.5 * np.sin(np.arange(100.0))[None, :], 22050)
    1.0
    """
    with atomic_target(path, force=force) as tmp:
        return write_file(tmp, y, sr, subtype=subtype, container=Path(path).suffix)


def write_file(path: str | os.PathLike[str], y: np.ndarray, sr: int, *, subtype: str,
               container: str) -> float:
    """Write ``y``, checked (`check_result`) and peak-limited, to ``path`` as it is, in the
    ``container`` of a file ending (``.wav`` or ``.flac``); returns the gain applied.

    A full disk raises ``OSError`` (ENOSPC) naming the file, as any other write would.
    """
    y = np.asarray(y)
    check_result(y)
    y, gain = limit_peak(y)
    bits = PCM_BITS.get(subtype)
    peak = float(np.max(np.abs(y)))
    if bits is not None and peak < 2.0 ** -bits:  # under half the smallest step: all zeros
        raise ParameterError(f"the result peaks at {20 * np.log10(peak):.0f} dBFS, below "
                             f"what {bits}-bit samples hold: nothing was written; use "
                             "--subtype float")
    fmt = "FLAC" if container.lower() == ".flac" else "WAV"
    try:
        sf.write(str(path), y.T, sr, subtype=subtype, format=fmt)
    except sf.LibsndfileError as exc:
        folder = Path(path).parent
        if shutil.disk_usage(folder).free < y.size * 4 + 65536:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        raise OSError(errno.EIO, f"writing failed ({_first_line(exc)})", str(path)) from None
    return gain


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

