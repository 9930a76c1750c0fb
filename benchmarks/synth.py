"""Sound synthesis benchmark: statistics, copying, variety and speed of ``styletransfer synth``.

Usage::

    .venv/bin/python benchmarks/synth.py                      # every clip, every system, speed
    .venv/bin/python benchmarks/synth.py --clips ambient,drone --no-speed
    .venv/bin/python benchmarks/synth.py --speed-only --lengths 10s,1m,10m,1h

**Protocol.** Each style clip of the dev corpus (20 s, 44.1 kHz, `corpus.md`) is cut in
two halves: every system learns from the first half S1 only and makes ``--seconds`` (20)
of output twice, with seeds 1 and 2; the second half S2 is held back. Measures, all from
`styletransfer.synth_measures` (its docstring has the details):

- ``ratio`` = D(output, S2) / D(S1, S2), D the mean texture-statistics distance over all
  pairs of 5 s windows (32 mel-band envelopes: spectral shape, coefficient of variation,
  skewness, cross-band correlations, modulation power; distance
  d(t, t') = sqrt(mean_g mean_i (t_gi - t'_gi)^2) over the five groups g), averaged over
  the two seeds. Target: <= 1.2, and below ``shuffled`` and ``noise`` on every clip.
- ``plan max`` / ``plan p95``: the longest run of consecutive style frames in the plan,
  ``segments[t + 1] = segments[t] + 1``, times the frame length, and its time-weighted
  95th percentile (95 % of the output's time lies in runs no longer); systems without a
  plan show ``-``. ``wave max`` / ``wave p95``: the same from the waveforms alone,
  stretches of consecutive 50 ms output blocks whose normalised cross-correlation
  ``sum (x - mean x)(y - mean y) / (|x - mean x| |y - mean y|)`` with S1 at one offset
  (within 2 samples at 22.05 kHz) is >= 0.95. Both over the two seeds (max of maxima,
  mean of p95s). Targets: max <= 1 s, p95 <= 0.25 s.
- ``JS uni`` / ``JS bi``: Jensen-Shannon divergence (bits)
  ``JS(p, q) = KL(p || m) / 2 + KL(q || m) / 2``, ``m = (p + q) / 2``, of the state
  frequencies and of consecutive state pairs, output against S1, states of a model learnt
  on S1 (default settings).
- ``corr``: Pearson correlation of the two seeds' outputs (mono mixes). Target: |corr| < 0.1.
- ``xCPU``: output seconds per CPU second of making it (this process's CPU time, threads
  included; learning included for this tool, process start-up included for the peer).

**Systems.** ``st-texture``, ``st-variations``, ``st-granular``: `styletransfer.synth` with
each synthesis preset (numpy engine). Baselines: ``tiled`` (S1 repeated: the statistics
of the style, all copying), ``shuffled`` (the style's 23 ms wavelet frames in random order,
rendered by the same engine: no copying, no continuity), ``noise`` (Gaussian noise whose
power spectrum is S1's long-term spectrum: ``X(f) = sqrt(P(f)) N(f)``, P the Welch power
spectrum, n_fft 4096, interpolated to the output's bins, N complex Gaussian, per channel,
scaled to S1's RMS). Peer: ``vmo``, the `vmo` package's Audio Oracle generation
(`peers/vmo_synth.py`), in its own environment ``benchmarks/.vmo-venv`` made on first use
(``pip install vmo librosa soundfile numpy scipy``, log in ``out/vmo-install.log``); if it
does not install or fails, the table says why and the rest is measured.

**Speed.** ``styletransfer synth`` in a fresh process for each length (``--lengths``,
default 10 s, 1 min, 10 min, 1 h) of mono 44.1 kHz output from a 20 s mono style (the
ambient clip), numpy engine, 24-bit WAV: wall and CPU seconds (``wait4``'s rusage),
``x real`` = output seconds / wall seconds, ``x CPU`` = output seconds / CPU seconds, the
same for the synthesis stage alone (after reading and learning the style, until the file
is in place), the stage's CPU-free wall seconds per minute of output relative to the 1 min
run (``min-cost``: 1.00 all down means time linear in length), and the peak resident
memory (``ru_maxrss``; flat means memory independent of length). Target: >= 100x real
time for 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VMO_VENV = HERE / ".vmo-venv"
VMO_REQUIREMENTS = ["vmo", "librosa", "soundfile", "numpy", "scipy"]
SR = 44100
SEEDS = (1, 2)
#: (name, character, corpus file); "demo drone" is made by styletransfer.demo.
CLIPS = [
    ("ambient", "pads and drones", "real/ambient_singularity-music.wav"),
    ("drone", "breathy drone with bells (the demo's, synthetic)", None),
    ("percussive", "drum-driven loop", "real/percussive_asc-music.wav"),
    ("orchestral", "symphonic orchestra", "real/orchestral_wesnoth-1.16-music.wav"),
    ("electronic", "synthesizers over a drum machine", "real/electronic_lincity-ng-data.wav"),
    ("metal", "distorted band: dense, noise-like", "real/metal_fretsonfire-songs-muldjord.wav"),
    ("choir", "sung vowels (choir aahs): the nearest to speech", "paired/pieceA_choir.wav"),
    ("strings", "string ensemble pad", "paired/pieceB_strings.wav"),
    ("chiptune", "pulse leads and noise drums", "real/chiptune_mrrescue.wav"),
]
PRESETS = ("texture", "variations", "granular")
SYSTEMS = (*(f"st-{p}" for p in PRESETS), "tiled", "shuffled", "noise", "vmo")
COLUMNS = ("ratio", "plan_max", "plan_p95", "wave_max", "wave_p95", "js_uni", "js_bi",
           "corr", "xcpu")


def clip_audio(corpus: Path, entry: tuple[str, str, str | None]) -> np.ndarray:
    """``(channels, samples)`` float32 audio of a clip at 44.1 kHz."""
    from styletransfer.audio import load
    from styletransfer.demo import breathy_drone

    if entry[2] is None:
        return np.asarray(breathy_drone(SR, seconds=20.0), dtype=np.float32)
    y, _ = load(corpus / entry[2], sr=SR)
    return y


def ensure_vmo_env(out: Path) -> str:
    """Create the peer's environment if needed; '' when ready, else why it is not."""
    python = VMO_VENV / "bin" / "python"
    stamp = VMO_VENV / ".requirements"
    wanted = "\n".join(VMO_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return ""
    log = out / "vmo-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"setting up {VMO_VENV} for the vmo peer (first run: a few minutes)", flush=True)
    try:
        if not python.exists():
            venv.EnvBuilder(with_pip=True).create(VMO_VENV)
        with log.open("w") as handle:
            done = subprocess.run([str(python), "-m", "pip", "install", *VMO_REQUIREMENTS],
                                  stdout=handle, stderr=subprocess.STDOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not create {VMO_VENV}: {exc}"
    if done.returncode != 0:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-3:])
        return f"pip install {' '.join(VMO_REQUIREMENTS)} failed: {tail} (see {log})"
    stamp.write_text(wanted)
    return ""


def cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def run_ours(preset: str, style: np.ndarray, seconds: float, seed: int) -> tuple[
        np.ndarray, np.ndarray, int]:
    """(audio, plan segments, hop) of `styletransfer.synth` with a synthesis preset."""
    from styletransfer.presets import load_preset
    from styletransfer.synth import synth

    chosen = load_preset(preset).check_kind(synthesis=True)
    settings = chosen.settings.updated({"seed": seed}).checked()
    audio, plan = synth([(style, SR)], seconds, settings=settings,
                        synth_settings=chosen.synth_settings)
    return audio, plan.segments, plan.hop


def run_shuffled(style: np.ndarray, seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray,
                                                                         int]:
    """The style's playable frames in random order, rendered by the synthesis engine."""
    from styletransfer.synth import PlanChunk, chunk_plan, prepare
    from styletransfer.synth_render import render_synth

    index = prepare([(style, SR)])
    rng = np.random.default_rng(seed)
    playable = np.flatnonzero(index.room > 0)
    n_frames = -(-int(seconds * SR) // index.style.hop)
    segments = playable[rng.integers(playable.size, size=n_frames)]
    gains = np.ones((n_frames, index.style.n_bands), dtype=np.float32)
    plan = chunk_plan(index, PlanChunk(0, segments, gains, index.labels[segments]),
                      n_samples=int(seconds * SR))
    return render_synth(plan, index), segments, index.style.hop


def run_tiled(style: np.ndarray, seconds: float) -> np.ndarray:
    n = int(seconds * SR)
    return np.tile(style, (1, -(-n // style.shape[1])))[:, :n]


def run_noise(style: np.ndarray, seconds: float, seed: int) -> np.ndarray:
    """Gaussian noise with the style's long-term power spectrum and RMS, per channel."""
    from scipy.signal import welch

    n = int(seconds * SR)
    rng = np.random.default_rng(seed)
    out = np.empty((style.shape[0], n), dtype=np.float32)
    freqs = np.fft.rfftfreq(n, 1 / SR)
    for c, channel in enumerate(style):
        f, power = welch(channel, fs=SR, nperseg=4096)
        spectrum = (rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size))
        y = np.fft.irfft(spectrum * np.sqrt(np.interp(freqs, f, power)), n)
        out[c] = y * (np.sqrt(np.mean(channel**2)) / (np.sqrt(np.mean(y**2)) + 1e-30))
    return out


def run_vmo(style_path: Path, out: Path, seconds: float, seed: int,
            n_channels: int) -> tuple[np.ndarray | None, float, str]:
    """(audio or None, CPU seconds, why not) of the vmo peer, in its own process."""
    proc = subprocess.Popen([str(VMO_VENV / "bin" / "python"),
                             str(HERE / "peers" / "vmo_synth.py"), str(style_path), str(out),
                             str(seconds), str(seed)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    if os.waitstatus_to_exitcode(status) != 0 or not out.exists():
        return None, cpu, "vmo failed: " + (output.strip().splitlines() or ["no output"])[-1]
    y, _ = sf.read(str(out), always_2d=True, dtype="float32")
    return np.repeat(y.T[:1], n_channels, axis=0), cpu, ""


def measure(outputs: list[np.ndarray], first: np.ndarray, second: np.ndarray,
            segments: list[np.ndarray | None], hop: int, model: Any) -> dict[str, float]:
    """The table's measures over the two seeds' outputs (see the module)."""
    from styletransfer.synth_measures import evaluate_synth, seed_correlation

    runs = [evaluate_synth(y, first, SR, reference=second, segments=s, hop=hop, model=model)
            for y, s in zip(outputs, segments, strict=True)]
    def mean(key: str) -> float:
        return float(np.mean([r[key] for r in runs]))

    def most(key: str) -> float:
        return float(np.max([r[key] for r in runs]))

    return {"ratio": mean("texture_ratio"), "plan_max": most("plan_copy_max"),
            "plan_p95": mean("plan_copy_p95"), "wave_max": most("wave_copy_max"),
            "wave_p95": mean("wave_copy_p95"), "js_uni": mean("state_js_unigram"),
            "js_bi": mean("state_js_bigram"),
            "corr": seed_correlation(outputs[0], outputs[1])}


def quality(args: argparse.Namespace) -> None:
    from styletransfer.settings import Settings
    from styletransfer.transfer import learn

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    why_not = "" if args.no_peer else ensure_vmo_env(out)
    if args.no_peer:
        why_not = "left out (--no-peer)"
    words = [w for w in args.clips.split(",") if w] if args.clips else []
    rows: list[dict[str, Any]] = []
    for entry in CLIPS:
        name = entry[0]
        if words and not any(w in name for w in words):
            continue
        y = clip_audio(Path(args.corpus), entry)
        half = y.shape[1] // 2
        first, second = y[:, :half], y[:, half:]
        style_path = out / name / "style-first-half.wav"
        style_path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(style_path), first.T, SR, subtype="FLOAT")
        model = learn([(first, SR)], sr=SR, n_channels=first.shape[0], settings=Settings())
        for system in SYSTEMS:
            print(f"{name}: {system}", file=sys.stderr, flush=True)
            outputs: list[np.ndarray] = []
            segments: list[np.ndarray | None] = []
            hop, note, cpu = 1024, "", 0.0
            for seed in SEEDS:
                before = cpu_seconds()
                if system.startswith("st-"):
                    audio, seg, hop = run_ours(system[3:], first, args.seconds, seed)
                elif system == "shuffled":
                    audio, seg, hop = run_shuffled(first, args.seconds, seed)
                elif system == "tiled":
                    audio, seg = run_tiled(first, args.seconds), None
                elif system == "noise":
                    audio, seg = run_noise(first, args.seconds, seed), None
                else:
                    if why_not:
                        note = why_not
                        break
                    peer, peer_cpu, note = run_vmo(style_path, out / name / f"vmo-{seed}.wav",
                                                   args.seconds, seed, first.shape[0])
                    if peer is None:
                        break
                    audio, seg = peer, None
                    cpu += peer_cpu
                cpu += cpu_seconds() - before
                outputs.append(audio)
                segments.append(seg)
                sf.write(str(out / name / f"{system}-{seed}.wav"), audio.T, SR,
                         subtype="FLOAT")
            row: dict[str, Any] = {"clip": name, "system": system, "note": note}
            if len(outputs) == len(SEEDS):
                row.update(measure(outputs, first, second, segments, hop, model))
                row["xcpu"] = len(SEEDS) * args.seconds / cpu if cpu > 0 else math.nan
            rows.append(row)
    (out / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    print_quality(rows)


def print_quality(rows: list[dict[str, Any]]) -> None:
    def cell(value: Any, key: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return f"{value:.0f}" if key == "xcpu" else f"{value:.3f}"

    head = ["clip", "system", *COLUMNS, "below shuffled & noise"]
    print("\n| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    by_clip: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_clip.setdefault(row["clip"], {})[row["system"]] = row
    for clip, systems in by_clip.items():
        for system, row in systems.items():
            below = ""
            if system.startswith("st-") and "ratio" in row:
                limits = [systems[b].get("ratio", math.nan) for b in ("shuffled", "noise")]
                below = "yes" if all(row["ratio"] < v for v in limits) else "NO"
            cells = [cell(row.get(k), k) for k in COLUMNS]
            if row.get("note"):
                cells = [row["note"][:90]] + ["-"] * (len(COLUMNS) - 1)
            print("| " + " | ".join([clip, system, *cells, below]) + " |")
    print("\nmedians over the clips\n")
    head = ["system", *COLUMNS, "clips"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for system in SYSTEMS:
        done = [r for r in rows if r["system"] == system and "ratio" in r]
        if not done:
            print(f"| {system} | " + " | ".join(["-"] * len(COLUMNS)) + " | 0 |")
            continue
        cells = [cell(_median([r[k] for r in done]), k) for k in COLUMNS]
        print(f"| {system} | " + " | ".join(cells) + f" | {len(done)} |")


def _median(values: list[float]) -> float:
    """Median of the finite values (NaN when there are none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(finite)) if finite else math.nan


CHILD = """
import json, sys, time
from styletransfer.synth_files import synth_files
marks = {}
def stage(name):
    marks[name] = time.perf_counter()
synth_files([sys.argv[1]], sys.argv[2], seconds=float(sys.argv[3]), force=True, stage=stage)
marks["done"] = time.perf_counter()
print(json.dumps(marks))
"""


def parse_length(text: str) -> float:
    text = text.strip()
    for suffix, scale in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if text.endswith(suffix):
            return float(text[:-1]) * scale
    return float(text)


def speed(args: argparse.Namespace) -> None:
    """One fresh process per length; see the module."""
    lengths = [parse_length(t) for t in args.lengths.split(",")]
    y = clip_audio(Path(args.corpus), CLIPS[0]).mean(axis=0)
    rows = []
    with tempfile.TemporaryDirectory(dir=args.out) as folder:
        style = Path(folder) / "style-mono.wav"
        sf.write(str(style), y, SR, subtype="PCM_16")
        for seconds in lengths:
            target = Path(folder) / "out.wav"
            print(f"speed: {seconds:g} s", file=sys.stderr, flush=True)
            start = time.perf_counter()
            proc = subprocess.Popen([sys.executable, "-c", CHILD, str(style), str(target),
                                     str(seconds)], stdout=subprocess.PIPE, text=True,
                                    env={**os.environ, "PYTHONPATH": str(ROOT)})
            assert proc.stdout is not None
            text = proc.stdout.read()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            ok = os.waitstatus_to_exitcode(status) == 0
            marks = json.loads(text.strip().splitlines()[-1]) if ok else {}
            stage = marks["done"] - marks["synthesising"] if marks else math.nan
            rows.append({"seconds": seconds, "wall": wall,
                         "cpu": usage.ru_utime + usage.ru_stime, "stage": stage,
                         "peak": usage.ru_maxrss / 1024, "ok": ok})
            target.unlink(missing_ok=True)
    base = min(rows, key=lambda r: abs(r["seconds"] - 60))
    print(f"\nspeed: mono 44.1 kHz output from a 20 s style, numpy engine, 24-bit WAV "
          f"(load average {os.getloadavg()[0]:.1f})\n")
    print("| length | wall s | cpu s | x real | x CPU | synthesis stage s | stage x real | "
          "min-cost | peak MiB |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        per_minute = r["stage"] / (r["seconds"] / 60)
        base_minute = base["stage"] / (base["seconds"] / 60)
        print(f"| {r['seconds']:g} s | {r['wall']:.1f} | {r['cpu']:.1f} | "
              f"{r['seconds'] / r['wall']:.0f}x | {r['seconds'] / r['cpu']:.0f}x | "
              f"{r['stage']:.2f} | {r['seconds'] / r['stage']:.0f}x | "
              f"{per_minute / base_minute:.2f} | {r['peak']:.0f} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(HERE / "corpus"))
    parser.add_argument("--out", default=str(HERE / "out" / "synth"))
    parser.add_argument("--clips", help="comma-separated words: only clips named so")
    parser.add_argument("--seconds", type=float, default=20.0, help="output per run (20)")
    parser.add_argument("--no-peer", action="store_true", help="leave out the vmo peer")
    parser.add_argument("--no-speed", action="store_true", help="leave out the speed part")
    parser.add_argument("--speed-only", action="store_true", help="only the speed part")
    parser.add_argument("--lengths", default="10s,1m,10m,1h", help="speed: output lengths")
    args = parser.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    if not args.speed_only:
        quality(args)
    if not args.no_speed:
        speed(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
