"""End-to-end speed benchmark of the ``styletransfer run`` command line.

Synthesises a stereo content (a plucked melody, transposed as it repeats) and a style
(a breathy drone), writes them as WAV files into a temporary folder, then runs the CLI in
a fresh subprocess for each engine (``--engine numpy``, ``--engine sc``), mode (timbre:
``--preset balanced``, mosaic: ``--preset mosaic``) and content length. Reports wall time
(best of ``--repeat``; lengths of 5 minutes or more run once), the real-time factor, the
child's CPU time (user + system: a busy machine inflates wall time, not this) and its peak
resident memory (``ru_maxrss`` of that child and of its own children, see `run_once`). It
also times the bare start-up (the interpreter importing the command and scikit-learn, a
fixed cost of every run) and prints the real-time factor with that cost taken out, which
is what longer files approach. The last column is the cost per minute of audio (wall time without
start-up, divided by the minutes) relative to the reference length's (1 minute when
measured): 1.0 all along means linear growth. With ``--presets`` the other built-in
presets also run (numpy engine). With ``--plot`` every job also runs with ``--plot
OUT.png``, its runs taking turns with the plain ones so that a machine's drifting speed
falls on both alike, and what the picture adds is printed. Targets are printed for
information: the exit code is always 0.

Usage::

    .venv/bin/python benchmarks/speed.py [--lengths 10s,1m,3m,10m] [--engines numpy,sc]
    .venv/bin/python benchmarks/speed.py --minutes 3 --presets   # the old single-length run
    .venv/bin/python benchmarks/speed.py --quick
    .venv/bin/python benchmarks/speed.py --lengths 3m --engines numpy --only timbre --plot
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from styletransfer.demo import MELODY, breathy_drone, plucked_melody
from styletransfer.presets import load_preset

SR = 44100
PRESETS = ("balanced", "fine", "instrument", "subtle", "full", "mosaic", "melodic", "glitch",
           "drift")
#: The preset that stands for each mode.
MODE_PRESETS = {"timbre": "balanced", "mosaic": "mosaic"}
ENGINES = ("numpy", "sc")
#: Wanted real-time factor (audio seconds per wall second) per engine and mode.
TARGETS = {("numpy", "timbre"): 100.0, ("numpy", "mosaic"): 30.0,
           ("sc", "timbre"): 20.0, ("sc", "mosaic"): 20.0}
#: Targets of single presets, where they differ from their mode's.
PRESET_TARGETS = {("numpy", "instrument"): 30.0}
DEFAULT_LENGTHS = "10s,1m,3m,10m"
#: Wanted cost of ``--plot`` (seconds of wall time it may add to a run).
PLOT_TARGET = 1.5
#: Lengths from this many seconds on run once whatever ``--repeat`` says.
ONCE_FROM = 300.0
#: What every run imports before it can work.
STARTUP = "import styletransfer.cli, sklearn.mixture, sklearn.neighbors"
#: Semitone shifts applied to successive repetitions of the melody.
TRANSPOSE = (0, 5, -3, 7, 2, -5, 4, -2)


@dataclass(frozen=True)
class Job:
    """One benchmarked command: a label, its engine, mode, preset and extra CLI options."""

    label: str
    engine: str
    mode: str
    preset: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Timing:
    """Best wall time, its CPU time and the largest peak RSS over the repeats of one job."""

    wall: float
    cpu: float
    rss_mib: float


@dataclass(frozen=True)
class Row:
    """One measured job at one content length."""

    job: Job
    seconds: float
    timing: Timing
    runs: int


def parse_length(text: str) -> float:
    """``10s``, ``1m``, ``1.5m`` or a bare number of seconds, in seconds.

    Examples
    --------
    >>> parse_length("10s"), parse_length("3m"), parse_length("90")
    (10.0, 180.0, 90.0)
    """
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([sm]?)\s*", text)
    if found is None or float(found.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a length such as 10s or 3m")
    return float(found.group(1)) * (60.0 if found.group(2) == "m" else 1.0)


def length_label(seconds: float) -> str:
    """``10s``, ``1m``, ``2.5m``..."""
    if seconds < 60 or seconds % 30:
        return f"{seconds:g}s"
    return f"{seconds / 60:g}m"


def make_content(seconds: float, seed: int = 0, sr: int = SR) -> np.ndarray:
    """A ``(2, n)`` stereo melody of harmonic tones with onsets, ``seconds`` long."""
    note_seconds = 0.5
    n_notes = max(1, int(np.ceil(seconds / note_seconds)))
    notes = tuple(MELODY[i % len(MELODY)] + TRANSPOSE[(i // len(MELODY)) % len(TRANSPOSE)]
                  for i in range(n_notes))
    mono = plucked_melody(sr, notes=notes, note_seconds=note_seconds)[0, : int(seconds * sr)]
    rng = np.random.default_rng(seed)
    delay = int(0.011 * sr)
    left = mono + 0.002 * rng.standard_normal(mono.size)
    right = 0.8 * np.roll(mono, delay) + 0.002 * rng.standard_normal(mono.size)
    y = np.stack([left, right])
    return np.asarray(0.5 * y / np.max(np.abs(y)))


def write_inputs(folder: Path, content_seconds: float,
                 style_seconds: float) -> tuple[Path, Path]:
    """Write ``content.wav`` and ``style.wav`` (24-bit, 44.1 kHz stereo) into ``folder``."""
    content, style = folder / "content.wav", folder / "style.wav"
    write_content(content, content_seconds)
    sf.write(style, breathy_drone(SR, seconds=style_seconds).T, SR, subtype="PCM_24")
    return content, style


def write_content(path: Path, seconds: float) -> None:
    """Write a ``seconds`` long content (24-bit, 44.1 kHz stereo) to ``path``."""
    sf.write(path, make_content(seconds).T, SR, subtype="PCM_24")


#: Runs the command given as its arguments and prints its wall seconds, CPU seconds and
#: peak RSS (KiB), or its error output and exit code. Started fresh and small, it starts
#: the command with nothing of this benchmark's memory: a child started straight from here
#: would report the benchmark's own resident memory as its peak (Linux carries the peak
#: of the image it replaced at exec into ``ru_maxrss``), and that held the synthesised
#: audio.
MEASURE = """
import resource, subprocess, sys, time
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - started
if done.returncode != 0:
    sys.stderr.write(done.stderr.decode(errors="replace"))
    sys.exit(done.returncode)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def run_once(command: list[str]) -> Timing:
    """Run ``command`` in a fresh process; returns its wall and CPU seconds and peak RSS
    (its own and that of the children it waited for, such as scsynth)."""
    done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): "
                           f"{done.stderr.strip()}")
    wall, cpu, rss_kib = done.stdout.split()
    # Linux reports ru_maxrss in KiB, macOS in bytes.
    rss_bytes = int(rss_kib) if sys.platform == "darwin" else int(rss_kib) * 1024
    return Timing(wall=float(wall), cpu=float(cpu), rss_mib=rss_bytes / 2**20)


def benchmark(job: Job, content: Path, style: Path, out: Path, repeat: int) -> Timing:
    """Fastest of ``repeat`` runs of ``job``, with the largest peak RSS of them all."""
    return benchmark_turns([job], content, style, out, repeat)[0]


def benchmark_turns(jobs: list[Job], content: Path, style: Path, out: Path,
                    repeat: int) -> list[Timing]:
    """`benchmark` of each of ``jobs``, their runs taking turns (one of each, ``repeat``
    times), so that they are compared on the same machine state."""
    commands = [[sys.executable, "-m", "styletransfer", "run", str(content), "--style",
                 str(style), "-o", str(out), *job.options, "--force", "--quiet"]
                for job in jobs]
    runs = [[run_once(command) for command in commands] for _ in range(repeat)]
    timings = []
    for column in zip(*runs, strict=True):
        best = min(column, key=lambda run: run.wall)
        timings.append(Timing(wall=best.wall, cpu=best.cpu,
                              rss_mib=max(run.rss_mib for run in column)))
    return timings


def jobs(engines: tuple[str, ...] = ENGINES, only: str | None = None, *,
         presets: bool = False) -> list[Job]:
    """Each engine in each mode, then (with ``presets``) the other presets on numpy.

    ``only`` keeps the jobs with one of its comma-separated words as engine, mode or preset,
    or inside the label.
    """
    found = [Job(f"{engine} {mode}", engine, mode, preset,
                 ("--engine", engine, "--preset", preset))
             for engine in engines for mode, preset in MODE_PRESETS.items()]
    if presets:
        found += [Job(f"numpy --preset {name}", "numpy", load_preset(name).settings.mode, name,
                      ("--engine", "numpy", "--preset", name))
                  for name in PRESETS if name not in MODE_PRESETS.values()]
    if only:
        words = [word.strip() for word in only.split(",") if word.strip()]
        found = [job for job in found
                 if any(word in (job.engine, job.mode, job.preset) or word in job.label
                        for word in words)]
    return found


def print_table(rows: list[Row], startup: Timing) -> None:
    """The table: one line per job and length, the cost per minute against the reference."""
    header = (f"{'engine':<6} {'mode':<7} {'preset':<9} {'length':>6} {'runs':>4} "
              f"{'wall s':>8} {'cpu s':>7} {'x real':>7} {'w/o start':>9} {'peak MiB':>9} "
              f"{'min-cost':>8} {'cpu-cost':>8}  target")
    print(header)
    print("-" * len(header))
    for row in rows:
        timing, job = row.timing, row.job
        net = max(timing.wall - startup.wall, 1e-3)
        same = [other for other in rows if other.job == job]
        reference = min(same, key=lambda other: (abs(other.seconds - 60.0), -other.seconds))
        ref_cost = max(reference.timing.wall - startup.wall, 1e-3) / reference.seconds
        net_cpu = max(timing.cpu - startup.cpu, 1e-3)
        ref_cpu = max(reference.timing.cpu - startup.cpu, 1e-3) / reference.seconds
        factor = row.seconds / timing.wall
        target = PRESET_TARGETS.get((job.engine, job.preset),
                                    TARGETS.get((job.engine, job.mode), 20.0))
        verdict = "pass" if factor >= target else "FAIL"
        print(f"{job.engine:<6} {job.mode:<7} {job.preset:<9} {length_label(row.seconds):>6} "
              f"{row.runs:>4} {timing.wall:>8.2f} {timing.cpu:>7.2f} {factor:>7.1f} "
              f"{row.seconds / net:>9.1f} {timing.rss_mib:>9.0f} "
              f"{(net / row.seconds) / ref_cost:>8.2f} {(net_cpu / row.seconds) / ref_cpu:>8.2f}"
              f"  >= {target:.0f}x: {verdict}")
    print("min-cost: wall s without start-up per minute of audio, relative to the run nearest "
          "1 minute of the same job (1.00 = linear); cpu-cost: the same with CPU seconds, "
          "which a busy machine does not inflate")


def print_plot_costs(rows: list[Row], plotted: dict[tuple[str, float], Timing]) -> None:
    """What ``--plot`` adds to each job: wall and CPU seconds, against `PLOT_TARGET`."""
    for row in rows:
        with_plot = plotted.get((row.job.label, row.seconds))
        if with_plot is None:
            continue
        extra = with_plot.wall - row.timing.wall
        verdict = "pass" if extra <= PLOT_TARGET else "FAIL"
        print(f"--plot adds to {row.job.label} {length_label(row.seconds)}: {extra:+.2f} s "
              f"wall ({row.timing.wall:.2f} -> {with_plot.wall:.2f} s), "
              f"{with_plot.cpu - row.timing.cpu:+.2f} s cpu, peak {with_plot.rss_mib:.0f} MiB"
              f"  <= {PLOT_TARGET:g} s: {verdict}")


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the benchmark and print the table; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default=None, metavar="LIST",
                        help=f"content lengths, e.g. 10s,1m,3m (default {DEFAULT_LENGTHS})")
    parser.add_argument("--minutes", type=float, default=None,
                        help="one content length in minutes (instead of --lengths)")
    parser.add_argument("--engines", default=",".join(ENGINES), metavar="LIST",
                        help="engines to run (default numpy,sc)")
    parser.add_argument("--style-minutes", type=float, default=1.0,
                        help="style length in minutes (default 1)")
    parser.add_argument("--repeat", type=int, default=2,
                        help=f"runs per job, best kept (2; lengths >= {ONCE_FROM:.0f} s run once)")
    parser.add_argument("--quick", action="store_true",
                        help="lengths 10s,30s, 15 s style, one run each")
    parser.add_argument("--presets", action="store_true",
                        help="also run the other built-in presets (numpy engine)")
    parser.add_argument("--plot", action="store_true",
                        help="also run every job with --plot and print what the picture adds")
    parser.add_argument("--only", metavar="WORDS",
                        help="comma-separated words: run only the jobs with one as engine, mode "
                        "or preset, e.g. 'sc' or 'mosaic' or 'glitch,drift'")
    args = parser.parse_args(argv)
    engines = tuple(name.strip() for name in args.engines.split(",") if name.strip())
    unknown = [name for name in engines if name not in ENGINES]
    if unknown:
        parser.error(f"--engines: unknown {', '.join(unknown)}; use {','.join(ENGINES)}")
    lengths_text = args.lengths or DEFAULT_LENGTHS
    style_minutes, repeat = args.style_minutes, max(1, args.repeat)
    if args.quick:
        lengths_text, style_minutes, repeat = args.lengths or "10s,30s", 0.25, 1
    try:
        lengths = sorted({parse_length(part) for part in lengths_text.split(",") if part.strip()})
    except argparse.ArgumentTypeError as error:
        parser.error(f"--lengths: {error}")
    if args.minutes is not None:
        lengths = [60.0 * args.minutes]

    load = os.getloadavg()
    print(f"lengths {', '.join(length_label(s) for s in lengths)} stereo, style "
          f"{60 * style_minutes:.0f} s stereo, {SR} Hz, best of {repeat} (once from "
          f"{length_label(ONCE_FROM)}), {os.cpu_count()} CPUs, python "
          f"{sys.version.split()[0]}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    bare = [run_once([sys.executable, "-c", STARTUP]) for _ in range(repeat)]
    startup = min(bare, key=lambda run: run.wall)
    print(f"start-up (python importing the command and scikit-learn): {startup.wall:.2f} s, "
          f"cpu {startup.cpu:.2f} s, peak {max(run.rss_mib for run in bare):.0f} MiB",
          flush=True)
    rows: list[Row] = []
    plotted: dict[tuple[str, float], Timing] = {}
    with tempfile.TemporaryDirectory(prefix="st-bench-") as tmp:
        folder = Path(tmp)
        content, style = write_inputs(folder, lengths[0], 60.0 * style_minutes)
        for seconds in lengths:
            write_content(content, seconds)
            runs = 1 if seconds >= ONCE_FROM else repeat
            for job in jobs(engines, args.only, presets=args.presets):
                drawn = Job(job.label, job.engine, job.mode, job.preset,
                            (*job.options, "--plot", str(folder / "out.png")))
                timings = benchmark_turns([job, *([drawn] if args.plot else [])], content,
                                          style, folder / "out.wav", runs)
                rows.append(Row(job, seconds, timings[0], runs))
                print(f"  {job.label} {length_label(seconds)}: {timings[0].wall:.2f} s",
                      file=sys.stderr, flush=True)
                if args.plot:
                    plotted[(job.label, seconds)] = timings[1]
                    print(f"  {job.label} {length_label(seconds)} --plot: "
                          f"{timings[1].wall:.2f} s", file=sys.stderr, flush=True)
    rows.sort(key=lambda row: (jobs(engines, args.only, presets=args.presets).index(row.job),
                               row.seconds))
    load = os.getloadavg()
    print_table(rows, startup)
    print_plot_costs(rows, plotted)
    print(f"load average at the end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
