"""Pitch profiles of frames: the pitch classes a frame holds, or its semitones with their octave.

Both come from one short-time spectrum of the mono mix, on the frame grid of
`analysis.analyse`: a Hann-windowed FFT about four frames long (at least 4096 samples at
44.1 kHz, for semitone resolution down to about 110 Hz), centred on each frame's centre.
The log-compressed magnitudes of the bins from 55 Hz to 5 kHz are spread over the two
nearest semitones and summed into

- 12 pitch classes (`frame_chroma`, A = 440 Hz tuning, C first): which notes sound, in any
  octave;
- `N_SEMITONES` semitones from 55 Hz up (`frame_pitches`): which notes sound, and where,
  so that a low C and a high C differ, as an instrument's tone does across its range.

Each row is scaled to unit length (a silent frame gives zeros). `stream_chroma` computes
the same profiles of a track read block by block.

Examples
--------
>>> t = np.arange(22050) / 22050
>>> a4 = np.sin(2 * np.pi * 440 * t)[None, :]
>>> int(frame_chroma(a4, 22050, 512)[10].argmax()), int(frame_pitches(a4, 22050, 512)[10].argmax())
(9, 36)
"""

from __future__ import annotations

import numpy as np

#: Lowest and highest frequency (Hz) that the profiles read pitch from.
CHROMA_RANGE_HZ = (55.0, 5000.0)
#: Columns of `frame_pitches`: the semitones from 55 Hz to past 5 kHz.
N_SEMITONES = int(np.ceil(12 * np.log2(CHROMA_RANGE_HZ[1] / CHROMA_RANGE_HZ[0]))) + 2


def profile_grid(sr: int, hop: int) -> tuple[int, float, int, int]:
    """The decimation step, the decimated rate, frame hop and FFT length of the profiles
    of a track at ``sr`` with frames of ``hop`` samples.

    Only pitch up to 5 kHz is read, so the mono mix is decimated by the largest power of
    two that keeps it (and divides the hop).

    Examples
    --------
    >>> profile_grid(44100, 512)
    (4, 11025.0, 128, 1024)
    """
    step = 1
    while step < hop and sr / (4 * step) > 1.1 * CHROMA_RANGE_HZ[1]:
        step *= 2
    rate, frame_hop = sr / step, hop // step
    n_fft = int(2 ** np.ceil(np.log2(max(4 * frame_hop, rate * 4096 / 44100))))
    return step, rate, frame_hop, n_fft


def profile_matrix(rate: float, n_fft: int, *, octaves: bool) -> tuple[np.ndarray, np.ndarray]:
    """Which FFT bins are read (a boolean mask over ``rfft`` bins) and the ``(n_kept, 12)``
    or, with ``octaves``, ``(n_kept, N_SEMITONES)`` matrix spreading each read bin over its
    two nearest semitones.

    Examples
    --------
    >>> keep, matrix = profile_matrix(11025.0, 1024, octaves=True)
    >>> int(keep.sum()) == matrix.shape[0], matrix.shape[1] == N_SEMITONES
    (True, True)
    >>> bool(np.allclose(matrix.sum(axis=1), 1.0))
    True
    """
    freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    keep = (freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= min(CHROMA_RANGE_HZ[1], rate / 2))
    if octaves:  # semitones above 55 Hz
        pitch, columns = 12 * np.log2(freqs[keep] / CHROMA_RANGE_HZ[0]), N_SEMITONES
    else:  # semitones above C, any octave
        pitch, columns = 12 * np.log2(freqs[keep] / 440.0) + 9.0, 12
    low = np.floor(pitch)
    upper_share = pitch - low
    first, second = low.astype(np.int64), low.astype(np.int64) + 1
    if not octaves:
        first, second = first % 12, second % 12
    rows = np.arange(int(keep.sum()))
    matrix = np.zeros((rows.size, columns))
    matrix[rows, first] = 1.0 - upper_share
    matrix[rows, second] += upper_share
    return keep, matrix


def unit_rows(values: np.ndarray) -> np.ndarray:
    """``values`` with each row scaled to unit length (rows of zeros stay zeros)."""
    norm = np.linalg.norm(values, axis=1, keepdims=True)
    return np.asarray(np.divide(values, norm, out=np.zeros_like(values), where=norm > 1e-12))


def pitch_classes(pitches: np.ndarray) -> np.ndarray:
    """The `frame_chroma` of frames given as `frame_pitches`: each semitone added to its
    pitch class (55 Hz is an A), rows scaled to unit length again.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> y = np.sin(2 * np.pi * 261.6 * t)[None, :] + 0.5 * np.sin(2 * np.pi * 392.0 * t)[None, :]
    >>> bool(np.allclose(pitch_classes(frame_pitches(y, 22050, 512)), frame_chroma(y, 22050, 512)))
    True
    """
    semitones = np.arange(N_SEMITONES)
    fold = np.zeros((N_SEMITONES, 12))
    fold[semitones, (semitones + 9) % 12] = 1.0
    return unit_rows(np.asarray(pitches, dtype=np.float64) @ fold)


def frame_chroma(y: np.ndarray, sr: int, hop: int, n_frames: int | None = None) -> np.ndarray:
    """``(n_frames, 12)`` pitch-class profile of each frame of ``hop`` samples, unit length
    (see the module notes).

    Parameters
    ----------
    y : np.ndarray
        ``(n_channels, n_samples)`` audio.
    sr : int
        Sample rate.
    hop : int
        Frame hop in samples (as in `analysis.analyse`).
    n_frames : int, optional
        Number of frames; by default as many as `analysis.analyse` makes.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> c = frame_chroma(np.sin(2 * np.pi * 440 * t)[None, :], 22050, 512)
    >>> c.shape, int(c[10].argmax())
    ((44, 12), 9)
    """
    return _profiles(y, sr, hop, n_frames, octaves=False)


def frame_pitches(y: np.ndarray, sr: int, hop: int, n_frames: int | None = None) -> np.ndarray:
    """``(n_frames, N_SEMITONES)`` semitone profile of each frame, octaves kept, unit length
    (see the module notes): column ``k`` is the semitone ``k`` above 55 Hz.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> tones = [np.sin(2 * np.pi * f * t)[None, :] for f in (220.0, 880.0)]
    >>> [int(frame_pitches(y, 22050, 512)[10].argmax()) for y in tones]
    [24, 48]
    """
    return _profiles(y, sr, hop, n_frames, octaves=True)


def _profiles(y: np.ndarray, sr: int, hop: int, n_frames: int | None, *,
              octaves: bool) -> np.ndarray:
    import scipy.fft

    n_frames = -(-y.shape[1] // hop) if n_frames is None else int(n_frames)
    mono = np.asarray(y, dtype=np.float32).mean(axis=0)
    step, rate, frame_hop, n_fft = profile_grid(sr, hop)
    if step > 1:
        import soxr

        mono = np.asarray(soxr.resample(mono, sr, rate, quality="MQ"), dtype=np.float32)
    pad = n_fft // 2
    padded = np.pad(mono, (pad, pad + n_frames * frame_hop), mode="constant")
    starts = np.arange(n_frames) * frame_hop + frame_hop // 2
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[starts]
    spectrum = np.abs(scipy.fft.rfft(frames * np.hanning(n_fft).astype(np.float32), axis=1))
    keep, matrix = profile_matrix(rate, n_fft, octaves=octaves)
    magnitude = spectrum[:, keep]
    scale = float(magnitude.max()) if magnitude.size else 0.0
    return unit_rows(np.log1p(100.0 * magnitude / max(scale, 1e-30)) @ matrix)
