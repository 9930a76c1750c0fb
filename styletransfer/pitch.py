"""Melody measures: the fundamental frequency of a one-voice track, and how far another
track keeps it.

The f0 track is librosa's probabilistic YIN (pyin) at 22.05 kHz, frames of 2048 samples
every 512 (23.2 ms, as `styletransfer.evaluate`), pitches from 65 Hz (C2) to 2093 Hz (C7)
on a grid of a quarter semitone, each frame's best pitch kept even where pyin calls the
frame unvoiced. It follows one voice: on chords or full mixes it follows whichever voice
dominates, so these measures judge one-voice (monophonic) material.

- ``raw_pitch``: over the frames the reference (the content) is voiced in, the share whose
  pitch the estimate (the output) has within 50 cents, voiced or not (octave errors count
  as wrong): as the raw pitch accuracy of melody extraction.
- ``voicing``: over the frames either track is active in, the share where both are voiced
  or both unvoiced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Rate, frame and hop of the f0 track.
SR, FRAME, HOP = 22050, 2048, 512
#: Lowest and highest pitch tracked (Hz), and the grid's step in semitones.
F0_RANGE = (65.0, 2093.0)
RESOLUTION = 0.25
#: A pitch within this many cents of the reference's counts as kept.
TOLERANCE_CENTS = 50.0


@dataclass(frozen=True)
class F0Track:
    """A frame-by-frame pitch track.

    Attributes
    ----------
    f0 : np.ndarray
        ``(n_frames,)`` the best pitch of every frame, in Hz.
    voiced : np.ndarray
        ``(n_frames,)`` whether pyin calls the frame voiced.
    """

    f0: np.ndarray
    voiced: np.ndarray


def track_f0(y: np.ndarray) -> F0Track:
    """The f0 track of mono audio ``y`` at 22.05 kHz.

    Examples
    --------
    >>> t = np.arange(22050) / 22050
    >>> track = track_f0(0.5 * np.sin(2 * np.pi * 220 * t))
    >>> cents = 1200 * np.log2(np.median(track.f0[track.voiced]) / 220)
    >>> bool(abs(cents) < 25), bool(track.voiced.mean() > 0.8)  # on a quarter-semitone grid
    (True, True)
    """
    import librosa

    f0, voiced, _ = librosa.pyin(np.asarray(y, dtype=np.float64), sr=SR, fmin=F0_RANGE[0],
                                 fmax=F0_RANGE[1], frame_length=FRAME, hop_length=HOP,
                                 resolution=RESOLUTION, fill_na=None)
    return F0Track(f0=np.asarray(f0, dtype=np.float64), voiced=np.asarray(voiced, dtype=bool))


def raw_pitch(reference: F0Track, estimate: F0Track) -> float:
    """Share of the reference's voiced frames whose pitch the estimate keeps (NaN if none).

    Examples
    --------
    >>> a = F0Track(np.array([220.0, 220.0, 440.0]), np.array([True, True, True]))
    >>> b = F0Track(np.array([222.0, 440.0, 440.0]), np.array([True, False, True]))
    >>> round(raw_pitch(a, b), 3)
    0.667
    """
    n = min(reference.f0.size, estimate.f0.size)
    voiced = reference.voiced[:n]
    if not voiced.any():
        return float("nan")
    cents = 1200 * np.abs(np.log2(estimate.f0[:n][voiced] / reference.f0[:n][voiced]))
    return float(np.mean(cents <= TOLERANCE_CENTS))


def voicing_agreement(reference: F0Track, estimate: F0Track, active: np.ndarray) -> float:
    """Share of the ``active`` frames where both tracks are voiced or both unvoiced.

    Examples
    --------
    >>> a = F0Track(np.ones(4), np.array([True, True, False, False]))
    >>> b = F0Track(np.ones(4), np.array([True, False, False, True]))
    >>> voicing_agreement(a, b, np.array([True, True, True, False]))
    0.6666666666666666
    """
    n = min(reference.voiced.size, estimate.voiced.size, active.size)
    if not active[:n].any():
        return float("nan")
    same = reference.voiced[:n] == estimate.voiced[:n]
    return float(np.mean(same[active[:n]]))
