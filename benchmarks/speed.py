"""End-to-end speed benchmark of the ``styletransfer run`` command line.

Synthesises a stereo content (a plucked melody, transposed as it repeats) and a style
(a breathy drone), writes them as WAV files into a temporary folder, then runs the CLI in
a fresh subprocess for each mode and preset. Reports wall time (best of ``--repeat``), the
real-time factor, the child's CPU time (user + system: a busy machine
inflates wall time, not this) and its peak resident memory (``ru_maxrss`` from ``wait4``, exact
for that one child). It also times the bare start-up (the interpreter importing the
command and scikit-learn, a fixed cost of every run) and prints the real-time factor with
that cost taken out, which is what longer files approach. Targets are printed for
information: the exit code is always 0.

Usage::

    .venv/bin/python benchmarks/speed.py [--minutes 3] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from styletransfer.demo import MELODY, breathy_drone, plucked_melody
from styletransfer.presets import load_preset

SR = 44100
PRESETS = ("balanced", "subtle", "full", "mosaic", "glitch", "drift")
#: Wanted real-time factor (audio seconds per wall second) for each mode.
TARGETS = {"timbre": 100.0, "mosaic": 30.0}
#: What every run imports before it can work.
STARTUP = "import styletransfer.cli, sklearn.mixture, sklearn.neighbors"
#: Semitone shifts applied to successive repetitions of the melody.
TRANSPOSE = (0, 5, -3, 7, 2, -5, 4, -2)


@dataclass(frozen=True)
class Job:
    """One benchmarked command: a label, its mode and the extra CLI options."""

    label: str
    mode: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Timing:
    """Best wall time, its CPU time and the largest peak RSS over the repeats of one job."""

    wall: float
    cpu: float
    rss_mib: float


def make_content(seconds: float, seed: int = 0) -> np.ndarray:
    """A ``(2, n)`` stereo melody of harmonic tones with onsets, ``seconds`` long."""
    note_seconds = 0.5
    n_notes = max(1, int(np.ceil(seconds / note_seconds)))
    notes = tuple(MELODY[i % len(MELODY)] + TRANSPOSE[(i // len(MELODY)) % len(TRANSPOSE)]
                  for i in range(n_notes))
    mono = plucked_melody(SR, notes=notes, note_seconds=note_seconds)[0, : int(seconds * SR)]
    rng = np.random.default_rng(seed)
    delay = int(0.011 * SR)
    left = mono + 0.002 * rng.standard_normal(mono.size)
    right = 0.8 * np.roll(mono, delay) + 0.002 * rng.standard_normal(mono.size)
    y = np.stack([left, right])
    return np.asarray(0.5 * y / np.max(np.abs(y)))


def write_inputs(folder: Path, content_seconds: float,
                 style_seconds: float) -> tuple[Path, Path]:
    """Write ``content.wav`` and ``style.wav`` (24-bit, 44.1 kHz stereo) into ``folder``."""
    content, style = folder / "content.wav", folder / "style.wav"
    sf.write(content, make_content(content_seconds).T, SR, subtype="PCM_24")
    sf.write(style, breathy_drone(SR, seconds=style_seconds).T, SR, subtype="PCM_24")
    return content, style


def run_once(command: list[str]) -> Timing:
    """Run ``command`` in a fresh process; returns its wall and CPU seconds and peak RSS.

    ``os.wait4`` reports the resource usage of exactly this child (and any children it
    waited for), so earlier runs never leak into the peak as with ``RUSAGE_CHILDREN``.
    """
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}): {message}")
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    rss_bytes = usage.ru_maxrss if sys.platform == "darwin" else usage.ru_maxrss * 1024
    return Timing(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mib=rss_bytes / 2**20)


def benchmark(job: Job, content: Path, style: Path, out: Path, repeat: int) -> Timing:
    """Fastest of ``repeat`` runs of ``job``, with the largest peak RSS of them all."""
    command = [sys.executable, "-m", "styletransfer", "run", str(content), "--style", str(style),
               "-o", str(out), *job.options, "--force", "--quiet"]
    runs = [run_once(command) for _ in range(repeat)]
    best = min(runs, key=lambda run: run.wall)
    return Timing(wall=best.wall, cpu=best.cpu, rss_mib=max(run.rss_mib for run in runs))


def jobs(quick: bool, only: str | None = None) -> list[Job]:
    """The two modes, then (unless ``quick``) every built-in preset; ``only`` keeps the jobs
    whose label contains one of its comma-separated words."""
    found = [Job(f"--mode {mode}", mode, ("--mode", mode)) for mode in TARGETS]
    if not quick:
        found += [Job(f"--preset {name}", load_preset(name).settings.mode, ("--preset", name))
                  for name in PRESETS]
    if only:
        words = [word.strip() for word in only.split(",") if word.strip()]
        found = [job for job in found if any(word in job.label for word in words)]
    return found


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark and print the table; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0,
                        help="content length in minutes (default 3)")
    parser.add_argument("--style-minutes", type=float, default=1.0,
                        help="style length in minutes (default 1)")
    parser.add_argument("--repeat", type=int, default=2, help="runs per job, best kept (2)")
    parser.add_argument("--quick", action="store_true",
                        help="30 s content, 15 s style, one run, the two modes only")
    parser.add_argument("--only", metavar="WORDS",
                        help="comma-separated words: run only the jobs whose label has one, "
                        "e.g. 'mode' or 'glitch,drift'")
    args = parser.parse_args(argv)
    minutes, style_minutes, repeat = args.minutes, args.style_minutes, max(1, args.repeat)
    if args.quick:
        minutes, style_minutes, repeat = 0.5, 0.25, 1

    seconds = 60.0 * minutes
    print(f"content {seconds:.0f} s stereo, style {60 * style_minutes:.0f} s stereo, "
          f"{SR} Hz, best of {repeat}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}")
    startup = min(run_once([sys.executable, "-c", STARTUP]).wall for _ in range(repeat))
    print(f"start-up (python importing the command and scikit-learn): {startup:.2f} s")
    header = (f"{'job':<18} {'mode':<7} {'audio s':>8} {'wall s':>8} {'cpu s':>7} "
              f"{'x real':>7} {'w/o start-up':>12} {'peak MiB':>9}  target")
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="st-bench-") as tmp:
        folder = Path(tmp)
        content, style = write_inputs(folder, seconds, 60.0 * style_minutes)
        for job in jobs(args.quick, args.only):
            timing = benchmark(job, content, style, folder / "out.wav", repeat)
            factor = seconds / timing.wall
            target = TARGETS[job.mode]
            verdict = "pass" if factor >= target else "FAIL"
            print(f"{job.label:<18} {job.mode:<7} {seconds:>8.1f} {timing.wall:>8.2f} "
                  f"{timing.cpu:>7.2f} {factor:>7.1f} "
                  f"{seconds / max(timing.wall - startup, 1e-3):>12.1f} {timing.rss_mib:>9.0f}  "
                  f">= {target:.0f}x: {verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
