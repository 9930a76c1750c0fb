"""Build the development corpus: paired (with ground truth) and real-music transfer tasks.

Paired tasks: three short pieces, written here as MIDI, are rendered by fluidsynth with the
FluidR3 General MIDI soundfont on several instruments. A task's content is piece A on
instrument X, its style piece B on instrument Y and its truth piece A on instrument Y, aligned
sample for sample with the content.

Real tasks: excerpts from the middle of freely licensed recordings shipped in Debian packages
(``apt-get download`` keeps the .deb files in ``OUT/.cache``; ``dpkg -x`` unpacks them into a
temporary folder; nothing is installed). Each excerpt is the content of one task and the style
of another, always paired with a recording of a different character.

Every file is a 44.1 kHz 16-bit WAV of ``--seconds`` seconds with its peak at -1 dBFS. What
exists is kept unless ``--force``; ``OUT/tasks.json`` lists the tasks (paths relative to OUT).

Usage::

    .venv/bin/python benchmarks/corpus.py [--out benchmarks/corpus] [--seconds 20] [--force]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

HERE = Path(__file__).resolve().parent
SR = 44100
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
#: Peak level of every file (-1 dBFS).
PEAK = float(10 ** (-1 / 20))
#: Seconds left after a piece's last note for the release and the reverb tail.
RELEASE = 1.5
#: Fade at the edges of real excerpts, in seconds.
FADE = 0.02
#: MIDI ticks per quarter note.
TICKS = 480

# ---------------------------------------------------------------------------------------------
# Paired material: pieces, instruments and tasks


@dataclass(frozen=True)
class Note:
    """One note: start and length in beats, MIDI pitch and velocity."""

    start: float
    length: float
    pitch: int
    velocity: int


@dataclass(frozen=True)
class Piece:
    """A piece: one cycle of notes, repeated to fill the excerpt."""

    name: str
    description: str
    bpm: float
    beats_per_bar: int
    cycle: float
    notes: tuple[Note, ...]


@dataclass(frozen=True)
class Instrument:
    """A General MIDI program and its family."""

    program: int
    gm_name: str
    family: str


STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def midi_pitch(name: str) -> int:
    """MIDI number of a note name: ``"C4"`` is 60, ``"F#4"`` 66, ``"Bb3"`` 58."""
    step = STEPS[name[0]]
    rest = name[1:]
    while rest and rest[0] in "#b":
        step += 1 if rest[0] == "#" else -1
        rest = rest[1:]
    return 12 * (int(rest) + 1) + step


def voice(spec: str, velocity: int, gate: float, beats_per_bar: int) -> tuple[list[Note], float]:
    """Notes of a line written as ``"A4/1 C5/0.5 r/1"`` (name or ``r`` for a rest, then beats),
    each held for ``gate`` of its value, bar starts accented; also the line's length in beats."""
    notes, beat = [], 0.0
    for token in spec.split():
        name, beats = token.split("/")
        if name != "r":
            accent = 8 if beat % beats_per_bar == 0 else 0
            notes.append(Note(beat, float(beats) * gate, midi_pitch(name), velocity + accent))
        beat += float(beats)
    return notes, beat


def piece(name: str, description: str, bpm: float, beats_per_bar: int,
          voices: list[tuple[str, int, float]]) -> Piece:
    """A piece from voices given as ``(spec, velocity, gate)``, all of the same length."""
    notes: list[Note] = []
    lengths = set()
    for spec, velocity, gate in voices:
        line, length = voice(spec, velocity, gate, beats_per_bar)
        notes += line
        lengths.add(length)
    if len(lengths) != 1:
        raise ValueError(f"voices of {name} differ in length: {sorted(lengths)}")
    notes.sort(key=lambda n: (n.start, n.pitch))
    return Piece(name, description, bpm, beats_per_bar, lengths.pop(), tuple(notes))


PIECES = {
    p.name: p
    for p in (
        piece("pieceA", "air in D major, 96 BPM, 4/4, legato quarters and eighths, one voice",
              96, 4, [("F#4/1 A4/1 D5/1.5 C#5/0.5 B4/1 A4/1 F#4/2 G4/1 B4/1 E5/1.5 D5/0.5 "
                       "C#5/1 A4/1 E4/2 F#4/0.5 G4/0.5 A4/1 B4/1 D5/1 E5/1.5 D5/0.5 C#5/1 B4/1 "
                       "A4/1 F#5/1 E5/1 C#5/1 D5/3 r/1", 88, 0.95)]),
        piece("pieceB", "study in A minor, 132 BPM, 4/4, running staccato eighths, one voice",
              132, 4, [("A4/.5 C5/.5 E5/.5 C5/.5 A4/.5 E4/.5 A4/.5 C5/.5 "
                        "B4/.5 D5/.5 E5/.5 D5/.5 B4/.5 G#4/.5 E4/1 "
                        "A4/.5 C5/.5 F5/.5 E5/.5 D5/.5 C5/.5 B4/.5 A4/.5 "
                        "G#4/.5 B4/.5 E5/1 E4/1 r/1 "
                        "C5/.5 E5/.5 G5/.5 E5/.5 C5/.5 G4/.5 C5/.5 E5/.5 "
                        "D5/.5 F5/.5 E5/.5 D5/.5 C5/.5 B4/.5 A4/1 "
                        "F4/.5 A4/.5 C5/.5 A4/.5 E4/.5 G#4/.5 B4/.5 D5/.5 "
                        "C5/.5 B4/.5 A4/1.5 r/1.5", 92, 0.6)]),
        piece("pieceC", "waltz in F major, 108 BPM, 3/4, dotted rhythms, melody over a held "
              "bass note (two voices)",
              108, 3, [("C5/1.5 A4/.5 F4/1 G4/1 A4/1 Bb4/1 A4/2 F4/1 D5/1.5 C5/.5 Bb4/1 "
                        "A4/1 G4/1 F4/1 E4/1 G4/1 C5/1 F4/.5 G4/.5 A4/.5 Bb4/.5 C5/1 "
                        "F5/2 C5/1 E5/1 D5/1 C5/1 Bb4/1.5 A4/.5 G4/1 F4/3 r/3", 90, 0.9),
                       ("F3/3 C4/3 F3/3 Bb3/3 F3/3 C4/3 A3/3 F3/3 C4/3 C4/3 F3/3 r/3",
                        62, 0.95)]),
    )
}

INSTRUMENTS = {
    "piano": Instrument(0, "Acoustic Grand Piano", "keys"),
    "electric-piano": Instrument(4, "Electric Piano 1", "keys"),
    "vibraphone": Instrument(11, "Vibraphone", "mallets"),
    "marimba": Instrument(12, "Marimba", "mallets"),
    "organ": Instrument(19, "Church Organ", "organ"),
    "nylon-guitar": Instrument(24, "Acoustic Guitar (nylon)", "plucked"),
    "violin": Instrument(40, "Violin", "strings"),
    "cello": Instrument(42, "Cello", "strings"),
    "strings": Instrument(48, "String Ensemble 1", "strings"),
    "choir": Instrument(52, "Choir Aahs", "voice"),
    "trumpet": Instrument(56, "Trumpet", "brass"),
    "alto-sax": Instrument(65, "Alto Sax", "reeds"),
    "clarinet": Instrument(71, "Clarinet", "reeds"),
    "flute": Instrument(73, "Flute", "flutes"),
}

#: Paired tasks: (content piece, content instrument, style piece, style instrument).
PAIRED = (
    ("pieceA", "piano", "pieceB", "violin"),
    ("pieceB", "flute", "pieceC", "trumpet"),
    ("pieceC", "nylon-guitar", "pieceA", "choir"),
    ("pieceC", "violin", "pieceA", "piano"),
    ("pieceA", "clarinet", "pieceC", "electric-piano"),
    ("pieceB", "organ", "pieceA", "marimba"),
    ("pieceC", "cello", "pieceB", "alto-sax"),
    ("pieceA", "vibraphone", "pieceB", "strings"),
)


def fill(p: Piece, seconds: float) -> tuple[list[Note], float]:
    """The piece's cycle repeated until ``RELEASE`` seconds before the end (notes cut there),
    and the excerpt's length in beats."""
    beat_s = 60.0 / p.bpm
    end = (seconds - RELEASE) / beat_s
    notes = []
    for k in range(int(end // p.cycle) + 1):
        for n in p.notes:
            start = n.start + k * p.cycle
            if start < end:
                notes.append(Note(start, min(n.length, end - start), n.pitch, n.velocity))
    return notes, seconds / beat_s


def varlen(value: int) -> bytes:
    """A MIDI variable-length quantity."""
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file(notes: list[Note], bpm: float, program: int, total_beats: float) -> bytes:
    """A format-0 Standard MIDI File: tempo, program change on channel 1, the notes, and the
    end of track at ``total_beats``."""
    tempo = round(60_000_000 / bpm)
    events: list[tuple[int, int, bytes]] = []  # (tick, note-offs first, message)
    for n in notes:
        on = round(n.start * TICKS)
        off = max(on + 1, round((n.start + n.length) * TICKS))
        events.append((on, 1, bytes([0x90, n.pitch, n.velocity])))
        events.append((off, 0, bytes([0x80, n.pitch, 0])))
    events.sort(key=lambda e: (e[0], e[1]))
    track = bytearray(varlen(0) + b"\xff\x51\x03" + tempo.to_bytes(3, "big"))
    track += varlen(0) + bytes([0xC0, program])
    now = 0
    for tick, _, message in events:
        track += varlen(tick - now) + message
        now = tick
    end = max(now, round(total_beats * TICKS))
    track += varlen(end - now) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, TICKS)
    return header + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render(midi: Path, n_samples: int) -> np.ndarray:
    """``(samples, 2)`` float audio of a MIDI file rendered by fluidsynth, cut or padded."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "render.wav"
        cmd = ["fluidsynth", "-n", "-i", "-q", "-g", "0.6", "-r", str(SR), "-T", "wav",
               "-O", "float", "-F", str(wav), str(SOUNDFONT), str(midi)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wav.exists():
            raise SystemExit(f"error: fluidsynth failed on {midi}: {done.stderr.strip()[-300:]}")
        audio, sr = sf.read(wav, dtype="float32", always_2d=True)
    if sr != SR:
        raise SystemExit(f"error: fluidsynth rendered {midi} at {sr} Hz, not {SR}")
    out = np.zeros((n_samples, audio.shape[1]), dtype=np.float32)
    n = min(n_samples, len(audio))
    out[:n] = audio[:n]
    return out


def build_render(out: Path, piece_name: str, instrument: str, seconds: float) -> None:
    """Write ``paired/<piece>_<instrument>.wav`` and the MIDI file it was rendered from."""
    p, inst = PIECES[piece_name], INSTRUMENTS[instrument]
    notes, total_beats = fill(p, seconds)
    midi = out / "paired" / "midi" / f"{piece_name}_{instrument}.mid"
    midi.parent.mkdir(parents=True, exist_ok=True)
    midi.write_bytes(midi_file(notes, p.bpm, inst.program, total_beats))
    audio = render(midi, round(seconds * SR))
    audio[-round(FADE * SR):] *= np.linspace(1.0, 0.0, round(FADE * SR), dtype=np.float32)[:, None]
    write(out / paired_path(piece_name, instrument), audio)


def paired_path(piece_name: str, instrument: str) -> str:
    """Corpus-relative path of a piece rendered on an instrument."""
    return f"paired/{piece_name}_{instrument}.wav"


# ---------------------------------------------------------------------------------------------
# Real music: excerpts of recordings from Debian packages


@dataclass(frozen=True)
class Excerpt:
    """A recording in a Debian package; ``files`` are summed (stems of one song); ``member`` is
    a file inside a zip archive."""

    character: str
    package: str
    files: tuple[str, ...]
    title: str
    license: str
    description: str
    member: str | None = None

    @property
    def path(self) -> str:
        """Corpus-relative path of the excerpt."""
        return f"real/{self.character}_{self.package}.wav"

    @property
    def source(self) -> str:
        """Package and file(s) the excerpt comes from."""
        inner = " + ".join("/" + f for f in self.files)
        if self.member:
            inner += f" ({self.member})"
        return f"{self.package}: {inner}"


WESNOTH = "usr/share/games/wesnoth/1.16/data/core/music/"
LINCITY = "usr/share/games/lincity-ng/music/default/"
FOF = "usr/share/games/fretsonfire/data/songs/"

#: Real excerpts in task order: each is the content of its task and the style of the previous.
EXCERPTS = (
    Excerpt("orchestral", "wesnoth-1.16-music", (WESNOTH + "frantic.ogg",),
            "Frantic (Battle for Wesnoth)", "GPL-2+",
            "full symphonic orchestra, strings, brass and timpani"),
    Excerpt("electronic", "lincity-ng-data", (LINCITY + "01 - pronobozo - lincity.ogg",),
            "Lincity by Pronobozo (LinCity-NG)", "GPL-2+",
            "electronic track, synthesizers over a steady drum machine beat"),
    Excerpt("folk", "wesnoth-1.16-music", (WESNOTH + "wanderer.ogg",),
            "Still Another Wanderer (Battle for Wesnoth)", "GPL-2+",
            "acoustic folk, plucked strings with flute and soft strings"),
    Excerpt("chiptune", "mrrescue", ("usr/share/games/mrrescue/mrrescue.love",),
            "Rockerronni (Mr. Rescue)", "CC-BY-SA-3.0",
            "retro game music, bright pulse-wave leads and noise drums",
            member="data/sfx/rockerronni.ogg"),
    Excerpt("ambient", "singularity-music", ("usr/share/games/singularity/music/Awakening.ogg",),
            "Awakening by Max McCracken (Endgame: Singularity)", "CC-BY-SA-3.0",
            "ambient, slow pads and drones with sparse swells"),
    Excerpt("metal", "fretsonfire-songs-muldjord",
            (FOF + "muldjord/armygeddon/song.ogg", FOF + "muldjord/armygeddon/guitar.ogg"),
            "Armygeddon by Muldjord (band and lead guitar stems mixed)", "CC-BY-SA-3.0",
            "death metal band, distorted guitars, bass and fast drums"),
    Excerpt("koto", "pushover-data", ("usr/share/pushover/themes/japanese.ogg",),
            "Japanese theme by Roberto Lorenz (Pushover)", "GPL-3+",
            "Japanese-style piece, plucked koto-like strings over a soft bed"),
    Excerpt("percussive", "asc-music", ("usr/share/games/asc/music/time_to_strike.mp3",),
            "Time to Strike by Michael Kievernagel (Advanced Strategic Command)", "GPL-2+",
            "percussion-driven battle music, drums to the fore"),
    Excerpt("guitar", "fretsonfire-songs-sectoid", (FOF + "sectoid/Feelings/guitar.ogg",),
            "Feelings by Sectoid (lead guitar stem)", "Expat",
            "solo electric guitar, a single melodic line"),
    Excerpt("blues", "lincity-ng-data",
            (LINCITY + "02 - Robert van Herk - City Blues.ogg",),
            "City Blues by Robert van Herk (LinCity-NG)", "GPL-2+",
            "slow blues combo, vibrato lead over held chords and a bass line"),
)


def run(cmd: list[str], cwd: Path, what: str) -> None:
    """Run a command, exiting with a one-line message if it fails."""
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise SystemExit(f"error: {what} failed: {last}")


def unpack(cache: Path, package: str, into: Path) -> Path:
    """Folder holding the unpacked Debian package; the .deb is downloaded into ``cache`` once
    and unpacked under ``into``."""
    root = into / package
    if root.is_dir():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    if not sorted(cache.glob(f"{package}_*.deb")):
        if shutil.which("apt-get") is None:
            raise SystemExit("error: apt-get not found: real-music tasks need a Debian system")
        print(f"downloading Debian package {package}", flush=True)
        run(["apt-get", "download", package], cache,
            f"apt-get download {package} (try apt-get update)")
    deb = sorted(cache.glob(f"{package}_*.deb"))[-1]
    run(["dpkg", "-x", str(deb), str(root)], cache, f"dpkg -x {deb.name}")
    return root


def read_source(path: Path, member: str | None) -> tuple[np.ndarray, int]:
    """``(samples, channels)`` float32 audio of a file, or of a member of a zip archive."""
    if member is None:
        audio, sr = sf.read(path, dtype="float32", always_2d=True)
    else:
        with zipfile.ZipFile(path) as archive:
            audio, sr = sf.read(io.BytesIO(archive.read(member)), dtype="float32",
                                always_2d=True)
    return audio, int(sr)


def build_excerpt(out: Path, ex: Excerpt, seconds: float, unpacked: Path) -> None:
    """Write the excerpt: the stems summed, resampled to 44.1 kHz, cut from the middle;
    packages are unpacked under ``unpacked``."""
    root = unpack(out / ".cache", ex.package, unpacked)
    mix: np.ndarray | None = None
    rate = SR
    for rel in ex.files:
        audio, rate = read_source(root / rel, ex.member)
        if mix is None:
            mix = audio
        else:
            n = min(len(mix), len(audio))
            mix = mix[:n] + audio[:n]
    assert mix is not None
    if rate != SR:
        g = gcd(SR, rate)
        mix = resample_poly(mix, SR // g, rate // g, axis=0).astype(np.float32)
    n = round(seconds * SR)
    if len(mix) < n:
        raise SystemExit(f"error: {ex.source} is shorter than {seconds} s")
    start = (len(mix) - n) // 2
    clip = mix[start:start + n].copy()
    ramp = np.linspace(0.0, 1.0, round(FADE * SR), dtype=np.float32)[:, None]
    clip[: len(ramp)] *= ramp
    clip[-len(ramp):] *= ramp[::-1]
    write(out / ex.path, clip)


def real_tasks() -> list[tuple[Excerpt, Excerpt]]:
    """(content, style) pairs: every excerpt is the content of one task and the style of the
    one before it, so each is used twice and never with itself."""
    return [(EXCERPTS[i], EXCERPTS[(i + 1) % len(EXCERPTS)]) for i in range(len(EXCERPTS))]


# ---------------------------------------------------------------------------------------------
# Corpus


def write(path: Path, audio: np.ndarray) -> None:
    """Write 16-bit WAV with the peak at -1 dBFS (through a temporary name)."""
    peak = float(np.max(np.abs(audio)))
    if peak <= 0.0:
        raise SystemExit(f"error: {path.name} is silent")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.wav")
    sf.write(partial, audio * (PEAK / peak), SR, subtype="PCM_16")
    partial.replace(path)


def task_list() -> list[dict[str, Any]]:
    """The entries of tasks.json."""
    tasks: list[dict[str, Any]] = []
    for c_piece, c_inst, s_piece, s_inst in PAIRED:
        ci, si = INSTRUMENTS[c_inst], INSTRUMENTS[s_inst]
        tasks.append({
            "name": f"paired/{c_inst}-to-{s_inst}",
            "kind": "paired",
            "content": paired_path(c_piece, c_inst),
            "style": paired_path(s_piece, s_inst),
            "truth": paired_path(c_piece, s_inst),
            "description": (f"{c_piece} ({PIECES[c_piece].description}) on {ci.gm_name} "
                            f"({ci.family}) to the timbre of {si.gm_name} ({si.family}), "
                            f"heard in {s_piece}; the truth is {c_piece} on {si.gm_name}"),
            "instruments": {"content": c_inst, "style": s_inst},
            "source": "MIDI pieces written by benchmarks/corpus.py, rendered by fluidsynth "
                      "with FluidR3_GM.sf2 (Debian package fluid-soundfont-gm)",
            "license": "MIT (FluidR3_GM soundfont)",
        })
    for content, style in real_tasks():
        tasks.append({
            "name": f"real/{content.character}-to-{style.character}",
            "kind": "real",
            "content": content.path,
            "style": style.path,
            "truth": None,
            "description": (f"content: {content.title}, {content.description}; "
                            f"style: {style.title}, {style.description}"),
            "source": {"content": content.source, "style": style.source},
            "license": {"content": content.license, "style": style.license},
        })
    return tasks


def duration(path: Path) -> float:
    """Length of a sound file in seconds."""
    return float(sf.info(path).duration)


def build(out: Path, seconds: float, force: bool) -> list[dict[str, Any]]:
    """Write every missing (or, with ``force``, every) file and tasks.json."""
    renders = sorted({(t[0], t[1]) for t in PAIRED} | {(t[2], t[3]) for t in PAIRED}
                     | {(t[0], t[3]) for t in PAIRED})
    for piece_name, instrument in renders:
        if force or not (out / paired_path(piece_name, instrument)).exists():
            print(f"rendering {piece_name} on {instrument}", flush=True)
            build_render(out, piece_name, instrument, seconds)
    with tempfile.TemporaryDirectory(dir=out) as unpacked:
        for ex in EXCERPTS:
            if force or not (out / ex.path).exists():
                print(f"cutting {ex.character} from {ex.package}", flush=True)
                build_excerpt(out, ex, seconds, Path(unpacked))
    tasks = task_list()
    spec = {"sr": SR, "seconds": seconds, "tasks": tasks}
    (out / "tasks.json").write_text(json.dumps(spec, indent=2) + "\n")
    return tasks


def summary(out: Path, tasks: list[dict[str, Any]]) -> str:
    """A table of the tasks with the length of each file."""
    lines = [f"{'task':<38} {'kind':<7} {'content':>8} {'style':>8} {'truth':>8}"]
    for t in tasks:
        lengths = [f"{duration(out / t[k]):7.2f}s" if t[k] else f"{'-':>8}"
                   for k in ("content", "style", "truth")]
        lines.append(f"{t['name']:<38} {t['kind']:<7} " + " ".join(lengths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build the corpus and print its tasks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE / "corpus",
                        help="corpus folder (default benchmarks/corpus)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="length of every file in seconds (default 20)")
    parser.add_argument("--force", action="store_true", help="rebuild files that exist")
    args = parser.parse_args(argv)
    if args.seconds <= RELEASE + 2:
        parser.error(f"--seconds must be more than {RELEASE + 2}")
    if shutil.which("fluidsynth") is None:
        raise SystemExit("error: fluidsynth not found: install the Debian packages fluidsynth "
                         "and fluid-soundfont-gm")
    if not SOUNDFONT.exists():
        raise SystemExit(f"error: {SOUNDFONT} not found: install the Debian packages "
                         "fluidsynth and fluid-soundfont-gm")
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    tasks = build(args.out, args.seconds, args.force)
    print(summary(args.out, tasks))
    n_paired = sum(t["kind"] == "paired" for t in tasks)
    print(f"{len(tasks)} tasks ({n_paired} paired, {len(tasks) - n_paired} real) in {args.out}; "
          f"built in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
