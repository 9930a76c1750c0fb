"""A GTZAN-shaped corpus, synthesised: ten genres of 30 s mono clips at 22.05 kHz (.au).

Every clip is made from its genre's recipe and its own seed, so the same call writes the
same files, byte for byte, on any machine: wavetable instruments (plucked and bowed
strings, organ, electric piano, bells, a square lead, a distorted guitar, bass) playing
notes of a scale at the genre's tempo, drums (kick, snare, hi-hat, ride) and noise
textures (vinyl crackle, rain, wind). It stands in for GTZAN (1,000 clips, 100 per genre,
``genres/<genre>/<genre>.000NN.au``) where the real corpus cannot be fetched.

Usage::

    .venv/bin/python benchmarks/synth_corpus.py OUT_DIR [--clips-per-genre 100] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

SR = 22050
SECONDS = 30.0
SEED = 2026
TABLE = 2048
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
          "reggae", "rock")
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10),
          "blues": (0, 3, 5, 6, 7, 10), "penta": (0, 2, 4, 7, 9),
          "dorian": (0, 2, 3, 5, 7, 9, 10)}
@dataclass(frozen=True)
class Recipe:
    """A genre: tempo range (BPM), scales, lead and chord instruments, drums, texture."""

    tempo: tuple[float, float]
    scales: tuple[str, ...]
    lead: tuple[str, ...]
    chords: str
    drums: str | None
    noise: str | None


RECIPES = {
    "blues": Recipe((66, 96), ("blues",), ("pluck", "organ"), "epiano", "shuffle", "crackle"),
    "classical": Recipe((56, 110), ("major", "minor"), ("bowed", "pluck"), "bowed", None,
                        "room"),
    "country": Recipe((90, 130), ("major", "penta"), ("pluck", "bowed"), "pluck", "basic",
                      None),
    "disco": Recipe((112, 126), ("minor", "dorian"), ("square", "bowed"), "bowed", "four",
                    None),
    "hiphop": Recipe((80, 96), ("minor",), ("epiano", "bell"), "epiano", "boombap",
                     "crackle"),
    "jazz": Recipe((100, 180), ("dorian", "major"), ("epiano", "square"), "epiano", "swing",
                   "room"),
    "metal": Recipe((130, 190), ("minor", "blues"), ("dist",), "dist", "fast", "wind"),
    "pop": Recipe((96, 128), ("major",), ("square", "bell"), "organ", "basic", None),
    "reggae": Recipe((70, 90), ("major", "minor"), ("organ", "pluck"), "organ", "onedrop",
                     "rain"),
    "rock": Recipe((100, 150), ("major", "blues"), ("dist", "pluck"), "dist", "basic", None),
}
#: Harmonic amplitudes (bright table, dull table) of each wavetable instrument.
HARMONICS = {
    "pluck": (1.0 / np.arange(1, 17) ** 0.9, 1.0 / np.arange(1, 17) ** 2.2),
    "bowed": (1.0 / np.arange(1, 17), 1.0 / np.arange(1, 17) ** 1.4),
    "organ": (np.array([1, 0.8, 0.6, 0.5, 0, 0.4, 0, 0.3, 0, 0, 0, 0.1]),) * 2,
    "epiano": (np.array([1, 0.5, 0.25, 0.12, 0.06, 0.03]),
               np.array([1, 0.2, 0.05, 0.01, 0, 0])),
    "bell": (np.array([1, 0, 0.6, 0, 0.4, 0.3, 0, 0.25, 0, 0.2]),
             np.array([1, 0, 0.2, 0, 0.05, 0.02, 0, 0.01, 0, 0])),
    "square": ((np.arange(1, 12) % 2) / np.arange(1, 12),
               (np.arange(1, 12) % 2) / np.arange(1, 12) ** 1.8),
    "dist": (1.0 / np.arange(1, 15), 1.0 / np.arange(1, 15) ** 1.3),
    "bass": (np.array([1, 0.5, 0.2, 0.1, 0.05]), np.array([1, 0.2, 0.04, 0.01, 0])),
}
#: Decay time (s), attack (s) and register (MIDI note range) of each instrument.
SHAPES = {"pluck": (0.6, 0.003, (52, 79)), "bowed": (4.0, 0.08, (48, 81)),
          "organ": (9.0, 0.02, (48, 79)), "epiano": (1.2, 0.004, (48, 79)),
          "bell": (2.0, 0.002, (64, 88)), "square": (3.0, 0.01, (57, 81)),
          "dist": (1.5, 0.005, (40, 67)), "bass": (0.8, 0.005, (28, 48))}


def tables() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """One cycle of each instrument, bright and dull, ``TABLE`` samples each."""
    phase = 2 * np.pi * np.arange(TABLE) / TABLE
    out = {}
    for name, (bright, dull) in HARMONICS.items():
        k = np.arange(1, len(bright) + 1)
        waves = [np.sin(np.outer(phase, k)) @ np.asarray(h, float) for h in (bright, dull)]
        out[name] = (waves[0] / np.abs(waves[0]).max(), waves[1] / np.abs(waves[1]).max())
    return out


TABLES = tables()


def note(name: str, midi: float, seconds: float) -> np.ndarray:
    """One note of instrument ``name``: wavetable lookup with a bright-to-dull crossfade."""
    decay, attack, _ = SHAPES[name]
    n = max(1, int(seconds * SR))
    t = np.arange(n) / SR
    f0 = 440.0 * 2 ** ((midi - 69) / 12)
    phase: np.ndarray
    if name in ("bowed", "square"):  # vibrato
        phase = np.cumsum(f0 / SR * (1 + 0.003 * np.sin(2 * np.pi * 5.5 * t))) % 1.0
    else:
        phase = (f0 / SR * np.arange(n)) % 1.0
    index = (phase * TABLE).astype(np.int64)
    bright, dull = TABLES[name]
    fade = np.exp(-t / (0.25 * decay))
    wave: np.ndarray = bright[index] * fade + dull[index] * (1 - fade)
    if name == "dist":
        wave = np.tanh(4.0 * wave)
    envelope = np.minimum(t / attack, 1.0) * np.exp(-t / decay)
    release = min(n, int(0.02 * SR))
    envelope[n - release:] *= np.linspace(1, 0, release)
    return np.asarray(wave * envelope)


class Notes:
    """Notes rendered once per clip and reused: music repeats its pitches and lengths."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, int, int], np.ndarray] = {}

    def __call__(self, name: str, midi: int, seconds: float) -> np.ndarray:
        key = (name, int(midi), round(seconds * 100))
        if key not in self.cache:
            self.cache[key] = note(name, key[1], key[2] / 100)
        return self.cache[key]


def place(out: np.ndarray, sound: np.ndarray, start: int, gain: float) -> None:
    end = min(out.size, start + sound.size)
    if start < end:
        out[start:end] += gain * sound[: end - start]


def drum(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "kick":
        n = int(0.35 * SR)
        t = np.arange(n) / SR
        freq = 45 + 110 * np.exp(-t / 0.03)
        return np.asarray(np.sin(2 * np.pi * np.cumsum(freq) / SR) * np.exp(-t / 0.12))
    if kind == "snare":
        n = int(0.2 * SR)
        t = np.arange(n) / SR
        body = np.sin(2 * np.pi * 185 * t) * np.exp(-t / 0.04)
        return np.asarray(0.6 * body + rng.standard_normal(n) * np.exp(-t / 0.06))
    n = int((0.5 if kind == "ride" else 0.06) * SR)
    t = np.arange(n) / SR
    noise = np.diff(rng.standard_normal(n + 1))
    return np.asarray(noise * np.exp(-t / (0.25 if kind == "ride" else 0.015)) * 0.5)


#: Hits per bar of each drum style: (instrument, beats within a 4-beat bar).
PATTERNS = {
    "basic": (("kick", (0, 2)), ("snare", (1, 3)), ("hat", (0, .5, 1, 1.5, 2, 2.5, 3, 3.5))),
    "four": (("kick", (0, 1, 2, 3)), ("snare", (1, 3)), ("hat", (.5, 1.5, 2.5, 3.5))),
    "shuffle": (("kick", (0, 2)), ("snare", (1, 3)), ("hat", (0, .67, 1, 1.67, 2, 2.67, 3,
                                                             3.67))),
    "boombap": (("kick", (0, 1.75, 2.5)), ("snare", (1, 3)), ("hat", (0, .5, 1, 1.5, 2, 2.5,
                                                                     3, 3.5))),
    "swing": (("ride", (0, 1, 1.67, 2, 3, 3.67)), ("kick", (0,)), ("hat", (1, 3))),
    "fast": (("kick", (0, .5, 1, 1.5, 2, 2.5, 3, 3.5)), ("snare", (1, 3)),
             ("hat", (0, .5, 1, 1.5, 2, 2.5, 3, 3.5))),
    "onedrop": (("kick", (2,)), ("snare", (2,)), ("hat", (0, .5, 1, 1.5, 2, 2.5, 3, 3.5))),
}


def texture(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == "crackle":
        clicks = (rng.random(n) < 0.0015) * rng.standard_normal(n)
        return np.asarray(lfilter([1.0], [1, -0.6], clicks) + 0.02 * rng.standard_normal(n))
    if kind == "rain":
        noise = lfilter([1.0], [1, -0.3], rng.standard_normal(n))
        drops = lfilter([1.0], [1, -0.97], (rng.random(n) < 0.004) * rng.standard_normal(n))
        return np.asarray(0.3 * noise + 0.5 * drops)
    if kind == "wind":
        slow = np.interp(np.arange(n), np.linspace(0, n, 40), rng.random(40))
        return np.asarray(lfilter([0.05], [1, -0.95], rng.standard_normal(n)) * slow * 3)
    return np.asarray(lfilter([0.02], [1, -0.98], rng.standard_normal(n)))  # room tone


def clip(genre: str, index: int) -> np.ndarray:
    """Clip ``index`` of ``genre``: ``SECONDS`` of mono float32 audio peaking near -3 dBFS."""
    recipe = RECIPES[genre]
    rng = np.random.default_rng([SEED, GENRES.index(genre), index])
    n = int(SECONDS * SR)
    out = np.zeros(n)
    beat = 60.0 / rng.uniform(*recipe.tempo)
    scale = SCALES[str(rng.choice(list(recipe.scales)))]
    root = int(rng.integers(0, 12))
    lead = str(rng.choice(list(recipe.lead)))
    notes_of = Notes()

    def pitch(register: tuple[int, int], step: int) -> int:
        octave, degree = divmod(step, len(scale))
        base = register[0] + (root - register[0]) % 12
        return base + 12 * octave + scale[degree]

    # lead melody: a random walk on the scale, notes of 1/4 to 2 beats
    time_s, step = 0.0, int(rng.integers(4, 10))
    register = SHAPES[lead][2]
    while time_s < SECONDS:
        length = beat * float(rng.choice([0.25, 0.5, 0.5, 1, 1, 2]))
        step = int(np.clip(step + rng.integers(-2, 3), 0, 2 * len(scale)))
        if rng.random() > 0.15:  # rests
            midi = min(pitch(register, step), register[1])
            place(out, notes_of(lead, midi, length * 1.2), int(time_s * SR), 0.5)
        time_s += length
    # chords: three scale notes a bar; offbeat stabs for reggae
    chords = recipe.chords
    bar = 4 * beat
    for b in range(int(SECONDS / bar) + 1):
        degree = int(rng.choice([0, 3, 4, 5]))
        notes = [pitch(SHAPES[chords][2], degree + k) for k in (0, 2, 4)]
        hits = (0.5, 1.5, 2.5, 3.5) if genre == "reggae" else (0,)
        for hit in hits:
            length = beat * (0.4 if genre == "reggae" else 4)
            for midi in notes:
                place(out, notes_of(chords, midi, length), int((b * bar + hit * beat) * SR),
                      0.18)
        # bass: root and fifth
        for hit, offset in ((0, 0), (2, 4)):
            midi = pitch(SHAPES["bass"][2], degree + offset)
            place(out, notes_of("bass", midi, beat * 1.5), int((b * bar + hit * beat) * SR),
                  0.5)
    # drums
    style = recipe.drums
    if style is not None:
        sounds = {kind: drum(kind, rng) for kind in ("kick", "snare", "hat", "ride")}
        for b in range(int(SECONDS / bar) + 1):
            for kind, beats in PATTERNS[style]:
                for hit in beats:
                    gain = {"kick": 0.9, "snare": 0.5, "hat": 0.25, "ride": 0.2}[kind]
                    place(out, sounds[kind], int((b * bar + hit * beat) * SR),
                          gain * rng.uniform(0.7, 1.0))
    if recipe.noise is not None:
        out += rng.uniform(0.05, 0.3) * texture(recipe.noise, n, rng)
    return (0.7 * out / np.abs(out).max()).astype(np.float32)


def clip_path(folder: Path, genre: str, index: int) -> Path:
    return folder / "genres" / genre / f"{genre}.{index:05d}.au"


def _write(job: tuple[str, str, int]) -> str:
    folder, genre, index = job
    path = clip_path(Path(folder), genre, index)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        part = path.with_name(path.name + ".part")
        sf.write(part, clip(genre, index), SR, subtype="PCM_16", format="AU")
        os.replace(part, path)
    return str(path)


def make_corpus(folder: str | os.PathLike[str], *, clips_per_genre: int = 100,
                jobs: int = 2) -> list[Path]:
    """Write (or keep, when already there) the corpus under ``folder``; returns the paths."""
    jobs_list = [(str(folder), genre, index) for genre in GENRES
                 for index in range(clips_per_genre)]
    with ProcessPoolExecutor(jobs) as pool:
        return [Path(p) for p in pool.map(_write, jobs_list, chunksize=8)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--clips-per-genre", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    paths = make_corpus(args.folder, clips_per_genre=args.clips_per_genre, jobs=args.jobs)
    print(f"{len(paths)} clips under {args.folder}", file=sys.stderr)


if __name__ == "__main__":
    main()
