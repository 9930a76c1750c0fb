"""Self-made example clips and the demo job.

The clips are synthesised on the spot (nothing is downloaded or shipped): a bright plucked
melody as content, and a dark, breathy, bell-sprinkled drone as style. Each styled result
gets its picture (`plot.run_figure`, measures in the title) when matplotlib is installed.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import audio
from .errors import ParameterError
from .files import RunResult, transfer_files
from .transfer import Progress

DEMO_SR = 44100
DEMO_PRESETS = ("balanced", "mosaic")
MELODY = (60, 64, 67, 72, 71, 67, 64, 62, 60, 65, 69, 72, 74, 72, 67, 64)


def midi_hz(note: float) -> float:
    """Frequency of a MIDI note number.

    Examples
    --------
    >>> midi_hz(69)
    440.0
    """
    return float(440.0 * 2 ** ((note - 69) / 12))


def plucked_melody(sr: int = DEMO_SR, *, notes: tuple[int, ...] = MELODY,
                   note_seconds: float = 0.5) -> np.ndarray:
    """A mono melody of bright harmonic tones with sharp onsets, ``(1, n_samples)``.

    Examples
    --------
    >>> plucked_melody(8000, notes=(60, 62)).shape
    (1, 8000)
    """
    n_note = int(note_seconds * sr)
    t = np.arange(n_note) / sr
    envelope = (1 - np.exp(-t / 0.004)) * np.exp(-t * 5.0)
    tones = []
    for note in notes:
        f0 = midi_hz(note)
        k = np.arange(1, int(0.45 * sr / f0) + 1)
        partials = np.sin(2 * np.pi * f0 * k[:, None] * t[None, :]) / k[:, None]
        tones.append(partials.sum(axis=0) * envelope)
    y = np.concatenate(tones)
    return (0.3 * y / np.max(np.abs(y)))[None, :]


def breathy_drone(sr: int = DEMO_SR, *, seconds: float = 6.0, seed: int = 7) -> np.ndarray:
    """A stereo style texture: dark drone chord, breath noise and sparse bells, ``(2, n)``.

    Examples
    --------
    >>> breathy_drone(8000, seconds=1.0).shape
    (2, 8000)
    """
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)
    drone = np.zeros(n)
    for note in (45, 52, 57):
        f0 = midi_hz(note)
        k = np.arange(1, 12, 2)
        drone += (np.sin(2 * np.pi * f0 * k[:, None] * t[None, :]) / k[:, None] ** 2).sum(axis=0)
    channels = []
    for _ in range(2):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.fft.rfftfreq(n, 1 / sr)
        spectrum *= np.exp(-0.5 * ((freqs - 4000) / 1500) ** 2)
        breath = np.fft.irfft(spectrum, n)
        breath *= 0.5 / np.max(np.abs(breath))
        bells = np.zeros(n)
        for start in rng.choice(n - sr // 2, size=max(1, int(seconds)), replace=False):
            tb = np.arange(n - start) / sr
            f = midi_hz(float(rng.integers(76, 88)))
            ratios = np.array([1.0, 2.76, 5.40, 8.93])
            ring = (np.sin(2 * np.pi * f * ratios[:, None] * tb[None, :])
                    / ratios[:, None]).sum(axis=0)
            bells[start:] += 0.3 * ring * np.exp(-tb * 3.0)
        channels.append(drone * swell * 0.25 + breath * (1.2 - swell) + bells)
    y = np.stack(channels)
    return np.asarray(0.4 * y / np.max(np.abs(y)))


def demo_picture(output: Path) -> Path:
    """The picture of a demo result: ``content.PRESET.png`` beside ``content.PRESET.wav``.

    Examples
    --------
    >>> demo_picture(Path("demo-output/content.mosaic.wav"))
    PosixPath('demo-output/content.mosaic.png')
    """
    return output.with_suffix(".png")


def run_demo(folder: str | os.PathLike[str] = "demo-output", *, force: bool = False,
             progress: Progress | None = None, pictures: bool = True) -> list[RunResult]:
    """Write the example clips into ``folder`` and style the content with each demo preset.

    With ``pictures``, each result's picture is drawn beside it (`demo_picture`). Returns the
    results in `DEMO_PRESETS` order.

    Examples
    --------
    >>> results = run_demo("/tmp/st-demo", force=True)  # doctest: +SKIP
    >>> [r.output.name for r in results]  # doctest: +SKIP
    ['content.balanced.wav', 'content.mosaic.wav']
    """
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"{out}: is a file, not a folder: name a folder for the demo")
    if not out.parent.is_dir():
        raise ParameterError(f"{out}: folder {out.parent} does not exist: create it first")
    out.mkdir(exist_ok=True)
    content, style = out / "content.wav", out / "style.wav"
    for path in (content, style):
        audio.check_output_path(path, subtype="PCM_24", force=force)
    audio.write(content, plucked_melody(), DEMO_SR, subtype="PCM_24", force=force)
    audio.write(style, breathy_drone(), DEMO_SR, subtype="PCM_24", force=force)
    results = []
    for name in DEMO_PRESETS:
        output = out / f"content.{name}.wav"
        results.append(transfer_files(content, [style], output, preset=name, force=force,
                                      progress=progress, measure=pictures,
                                      plot=demo_picture(output) if pictures else None))
    return results
