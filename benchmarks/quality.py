"""Quality benchmark: every system on every task of the corpus, measured and tabulated.

For each task (content, style, optional ground truth) of ``CORPUS/tasks.json`` and each
system, renders the output, times it (wall seconds; real-time factor = content seconds /
wall seconds), measures it with ``styletransfer.evaluate.evaluate_files`` and finally prints
one table: a row per system, the median of every measure over the tasks (the ground-truth
measures ``mcd_*`` over the paired tasks only, the others over all tasks) and the median
real-time factor. ``--by-kind`` adds the same table for paired and for real-music tasks.

Systems (``--list`` shows them):

- ``st-<preset>``: this tool's command line, ``styletransfer run CONTENT --style STYLE -o OUT
  --preset <preset> --force -q``; ``st-balanced+--strength=0.5+--shifts=1`` adds options;
  `CUSTOM` names other option sets.
- baselines (in this process, ``baselines.py``): ``identity``, ``tiled-style``,
  ``channel-vocoder``.
- peers (other published methods, in their own environment ``benchmarks/.peers-venv``,
  made on first use): ``gamut``, ``letitbee``, ``random-cnn``; options may be added the same
  way, e.g. ``random-cnn+--filters=1024``.

Per-task results go to a JSON file after every run, so an interrupted benchmark keeps what it
did, and ``--reuse`` renders or measures again only what changed (the system's code or
options, the input files, the measures' code). A system that fails on a task is reported as
failed and the benchmark goes on.

Usage::

    .venv/bin/python benchmarks/quality.py [--corpus benchmarks/corpus] [--systems a,b,...]
        [--tasks SUBSTRING] [--out benchmarks/out/quality] [--json FILE] [--no-peers]
        [--reuse] [--by-kind]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import resource
import subprocess
import sys
import time
import venv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from baselines import BASELINES, read_audio, write_audio
from notes import note_scores

from styletransfer.evaluate import METRICS, evaluate_files

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_DIR = HERE / "peers"
PEERS_VENV = HERE / ".peers-venv"
#: What the peers' environment holds (a CPU build of torch; never a newer one).
PEER_REQUIREMENTS = ("gamut", "libnmfd", "torch==2.13.0", "numpy", "scipy", "soundfile",
                     "librosa")
#: This tool's presets, each benchmarked as ``st-<preset>``.
ST_PRESETS = ("balanced", "fine", "instrument", "full", "subtle", "mosaic", "melodic", "glitch",
              "drift")
#: More command-line systems: name -> options of ``styletransfer run``.
CUSTOM: dict[str, tuple[str, ...]] = {
    "st-mosaic-smooth": ("--preset", "mosaic", "--continuity", "4"),
}
#: Peer systems: name -> runner script in ``benchmarks/peers``.
PEERS = {"gamut": "gamut_mosaic.py", "letitbee": "letitbee.py", "random-cnn": "random_cnn.py"}
#: The ground truth itself, as a system (paired tasks only): the reference for every measure.
TRUTH = "truth"
#: Systems run when ``--systems`` is not given.
DEFAULT_SYSTEMS = (*[f"st-{p}" for p in ST_PRESETS], TRUTH, *BASELINES, *PEERS)
#: Measures added by the benchmark to `METRICS`: note F1 of the output against the content.
NOTE_METRICS = ("note_f1", "note_precision", "note_recall")
#: Measures that need a ground truth: their medians are over the paired tasks only.
PAIRED_ONLY = ("mcd_output", "mcd_content", "mcd_reduction")
#: Short column headings of the table.
LABELS = {
    "style_gain_mfcc": "gainMFCC", "style_gain_texture": "gainTex",
    "mfcc_distance_output": "mfccOut", "mfcc_distance_content": "mfccCon",
    "texture_distance_output": "texOut", "texture_distance_content": "texCon",
    "onset_corr": "onset", "chroma_cos": "chroma", "loudness_corr": "loudness",
    "f0_raw_pitch": "f0RPA", "f0_voicing": "f0Voic", "note_f1": "noteF1",
    "note_precision": "noteP", "note_recall": "noteR",
    "mcd_output": "mcdOut", "mcd_content": "mcdCon", "mcd_reduction": "mcdRed",
    "duration_ratio": "durRatio", "peak_dbfs": "peakdB", "clip_fraction": "clip",
    "nonfinite_fraction": "nonfin", "silent": "silent",
}
#: Decimals shown for these columns (others: three, fewer for large values).
DECIMALS = {"peak_dbfs": 1, "mcd_output": 1, "mcd_content": 1, "rtf": 1}
#: Version of the results file layout.
RESULTS_VERSION = 1


@dataclass(frozen=True)
class Task:
    """One benchmark task: files of the content, the style and (paired tasks) the truth."""

    name: str
    kind: str
    content: Path
    style: Path
    truth: Path | None


@dataclass(frozen=True)
class System:
    """A system under test: how it runs (``cli``, ``baseline`` or ``peer``) and its options."""

    name: str
    kind: str
    target: str
    options: tuple[str, ...] = ()


@dataclass
class Outcome:
    """What rendering one task with one system gave."""

    ok: bool
    wall: float
    error: str = ""
    cpu: float = math.nan


def parse_system(name: str) -> System:
    """The system called ``name``: ``base`` or ``base+--opt=value+--flag...``."""
    base, *extra = name.split("+")
    options: list[str] = []
    for item in extra:
        options.extend(item.split("=", 1) if item.startswith("--") else [item])
    if base in CUSTOM:
        return System(name, "cli", base, (*CUSTOM[base], *options))
    if base == TRUTH:
        return System(name, "truth", base)
    if base in BASELINES:
        if options:
            raise ValueError(f"baseline {base!r} takes no options")
        return System(name, "baseline", base)
    if base in PEERS:
        return System(name, "peer", PEERS[base], tuple(options))
    if base.startswith("st-") and len(base) > 3:
        return System(name, "cli", base, ("--preset", base[3:], *options))
    raise ValueError(f"unknown system {base!r} (see --list)")


def load_tasks(corpus: Path, only: str | None) -> list[Task]:
    """Tasks of ``corpus/tasks.json``; ``only`` keeps names holding one of its comma-separated
    words."""
    spec = json.loads((corpus / "tasks.json").read_text())
    words = [w.strip() for w in (only or "").split(",") if w.strip()]
    tasks = []
    for item in spec["tasks"]:
        if words and not any(w in item["name"] for w in words):
            continue
        truth = item.get("truth")
        tasks.append(Task(item["name"], item.get("kind", "paired" if truth else "real"),
                          corpus / item["content"], corpus / item["style"],
                          corpus / truth if truth else None))
    return tasks


def digest(parts: Iterable[str]) -> str:
    """Short SHA-1 of the joined ``parts``."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()[:16]


def files_digest(paths: Iterable[Path]) -> str:
    """SHA-1 of the contents of ``paths`` (sorted; missing ones skipped)."""
    sha = hashlib.sha1()
    for path in sorted(paths):
        if path.is_file():
            sha.update(str(path.relative_to(ROOT)).encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()[:16]


def file_stamp(path: Path | None) -> str:
    """Path, size and modification time of a file ('' for None, 'missing' when absent)."""
    if path is None:
        return ""
    try:
        stat = path.stat()
    except OSError:
        return f"{path}:missing"
    return f"{path}:{stat.st_size}:{stat.st_mtime_ns}"


class CodeDigests:
    """Digests of the code behind each kind of system and behind the measures, computed once."""

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def _get(self, key: str, paths: Iterable[Path]) -> str:
        if key not in self._cache:
            self._cache[key] = files_digest(paths)
        return self._cache[key]

    def system(self, system: System) -> str:
        """Digest of the code that renders ``system``'s outputs."""
        if system.kind == "cli":
            paths = [*(ROOT / "styletransfer").rglob("*.py"), *(ROOT / "presets").glob("*.toml")]
            return self._get("cli", paths)
        if system.kind == "baseline":
            return self._get("baseline", [HERE / "baselines.py"])
        if system.kind == "truth":
            return "truth"
        script = PEERS_DIR / system.target
        return self._get(f"peer:{script.name}", [script, HERE / "baselines.py"])

    def measures(self) -> str:
        """Digest of the measuring code."""
        return self._get("measures", [ROOT / "styletransfer" / "evaluate.py",
                                      ROOT / "styletransfer" / "audio.py"])


def safe_name(text: str) -> str:
    """``text`` usable as a file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def peers_python() -> Path:
    """The peers' interpreter."""
    return PEERS_VENV / "bin" / "python"


def ensure_peers_env() -> str:
    """Create the peers' environment if needed; '' when ready, else why it is not."""
    stamp = PEERS_VENV / ".requirements"
    wanted = "\n".join(PEER_REQUIREMENTS)
    if peers_python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return ""
    print(f"setting up the peers' environment in {PEERS_VENV} "
          "(first run: a few minutes)...", flush=True)
    log = PEERS_VENV.parent / "out" / "peers-install.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not peers_python().exists():
            venv.EnvBuilder(with_pip=True).create(PEERS_VENV)
        with log.open("w") as handle:
            done = subprocess.run([str(peers_python()), "-m", "pip", "install",
                                   *PEER_REQUIREMENTS], stdout=handle,
                                  stderr=subprocess.STDOUT, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not create {PEERS_VENV}: {exc}"
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-3:]
        return (f"pip install {' '.join(PEER_REQUIREMENTS)} failed (exit {done.returncode}); "
                f"see {log}: " + " | ".join(tail))
    stamp.write_text(wanted)
    print("peers' environment ready", flush=True)
    return ""


def cli_command() -> list[str]:
    """How to call this tool's command line from the running environment."""
    script = Path(sys.executable).with_name("styletransfer")
    return [str(script)] if script.exists() else [sys.executable, "-m", "styletransfer"]


def children_cpu() -> float:
    """User + system CPU seconds of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_subprocess(command: list[str], log: Path, timeout: float) -> Outcome:
    """Run ``command`` with its output in ``log``; success, wall and CPU time."""
    cpu_before = children_cpu()
    started = time.perf_counter()
    try:
        with log.open("w") as handle:
            done = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT,
                                  timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return Outcome(False, time.perf_counter() - started, f"timed out after {timeout:.0f} s")
    except OSError as exc:
        return Outcome(False, time.perf_counter() - started, str(exc))
    wall = time.perf_counter() - started
    if done.returncode != 0:
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        return Outcome(False, wall, f"exit {done.returncode}: {lines[-1] if lines else ''}"[:300])
    return Outcome(True, wall, cpu=children_cpu() - cpu_before)


_WARM: set[str] = set()


def run_baseline(name: str, task: Task, out: Path) -> Outcome:
    """Render ``task`` with a baseline in this process (read, process, write, all timed)."""
    function = BASELINES[name]
    if name not in _WARM:  # first calls compile librosa's kernels: keep that out of the time
        noise = np.random.default_rng(0).standard_normal((1, 44100)).astype(np.float32) * 0.1
        function(noise, noise, 44100)
        _WARM.add(name)
    cpu_before = time.process_time()
    started = time.perf_counter()
    try:
        content, sr = read_audio(task.content)
        style, _ = read_audio(task.style, sr)
        write_audio(out, function(content, style, sr), sr)
    except Exception as exc:  # a failing baseline is reported, not fatal
        return Outcome(False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    return Outcome(True, time.perf_counter() - started, cpu=time.process_time() - cpu_before)


def render(system: System, task: Task, out: Path, timeout: float, seed: int,
           peers_error: str) -> Outcome:
    """Render ``task`` with ``system`` into ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    log = out.with_suffix(".log")
    if system.kind == "baseline":
        return run_baseline(system.target, task, out)
    if system.kind == "truth":
        if task.truth is None:
            return Outcome(False, 0.0, "no ground truth: a real-music task")
        started = time.perf_counter()
        out.write_bytes(task.truth.read_bytes())
        return Outcome(True, time.perf_counter() - started)
    if system.kind == "cli":
        command = [*cli_command(), "run", str(task.content), "--style", str(task.style),
                   "-o", str(out), *system.options, "--force", "-q"]
    else:
        if peers_error:
            return Outcome(False, 0.0, f"peers' environment unavailable: {peers_error}")
        command = [str(peers_python()), str(PEERS_DIR / system.target), str(task.content),
                   str(task.style), str(out), "--seed", str(seed), *system.options]
    outcome = run_subprocess(command, log, timeout)
    if outcome.ok and not out.exists():
        return Outcome(False, outcome.wall, "no output file written")
    return outcome


def to_json(value: Any) -> Any:
    """``value`` with NaN and infinities as strings, which strict JSON allows."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def from_json(value: Any) -> Any:
    """Inverse of `to_json`."""
    if isinstance(value, str) and value in ("nan", "inf", "-inf"):
        return float(value)
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def load_results(path: Path) -> dict[str, dict[str, Any]]:
    """Stored results by ``task|system`` (empty when absent or of another layout)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    if data.get("version") != RESULTS_VERSION:
        return {}
    return {f"{r['task']}|{r['system']}": from_json(r) for r in data.get("results", [])}


def save_results(path: Path, results: dict[str, dict[str, Any]]) -> None:
    """Write the results (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = [to_json(results[key]) for key in sorted(results)]
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps({"version": RESULTS_VERSION, "results": ordered}, indent=1))
    os.replace(tmp, path)


def run_one(system: System, task: Task, out_dir: Path, old: dict[str, Any] | None,
            args: argparse.Namespace, code: CodeDigests, peers_error: str) -> dict[str, Any]:
    """Render (or reuse) and measure one task with one system; the result record."""
    out = out_dir / safe_name(system.name) / f"{safe_name(task.name)}.wav"
    content_s = float(sf.info(str(task.content)).duration)
    render_key = digest([system.name, system.kind, system.target, *system.options,
                         str(args.seed), code.system(system), file_stamp(task.content),
                         file_stamp(task.style), file_stamp(task.truth)])
    render_failed = (old is not None and old["status"] == "failed"
                     and old.get("stage", "render") == "render")
    keep = False
    if args.reuse and old is not None and old.get("render_key") == render_key:
        keep = not args.retry_failed if render_failed else out.exists()
    if keep and old is not None:
        outcome = Outcome(not render_failed, float(old["wall_s"]),
                          old["error"] if render_failed else "",
                          float(old.get("cpu_s", math.nan)))
        rendered = False
    else:
        outcome = render(system, task, out, args.timeout, args.seed, peers_error)
        rendered = True
    record: dict[str, Any] = {
        "task": task.name, "kind": task.kind, "system": system.name,
        "status": "ok" if outcome.ok else "failed", "stage": "render", "error": outcome.error,
        "render_key": render_key, "wall_s": outcome.wall, "cpu_s": outcome.cpu,
        "content_s": content_s,
        "rtf": content_s / outcome.wall if outcome.ok and outcome.wall > 0 else math.nan,
        "rtf_cpu": content_s / outcome.cpu if outcome.ok and outcome.cpu > 0 else math.nan,
        "output": str(out.relative_to(out_dir)), "metrics": {}, "reused": not rendered,
    }
    if not outcome.ok:
        return record
    eval_key = digest([render_key, code.measures(), file_stamp(out)])
    if (not rendered and old is not None and old.get("eval_key") == eval_key
            and old.get("metrics")):
        record.update(stage="measure", eval_key=eval_key, metrics=old["metrics"])
        return record
    try:
        metrics = evaluate_files(task.content, task.style, out, task.truth)
    except Exception as exc:  # a file the measures refuse is a failed run, not a crash
        record.update(status="failed", stage="measure",
                      error=f"measures: {type(exc).__name__}: {exc}"[:300])
        return record
    record.update(stage="measure", eval_key=eval_key,
                  metrics={k: float(v) for k, v in metrics.items()})
    return record


def add_note_scores(records: list[dict[str, Any]], tasks: list[Task], out_dir: Path) -> None:
    """Add the note F1, precision and recall of every output against its content's notes
    (`notes.note_scores`) to the records; NaN for all when the transcriber is unavailable."""
    contents = {task.name: task.content for task in tasks}
    pairs = {id(r): (contents[r["task"]], out_dir / r["output"]) for r in records
             if r["status"] == "ok"}
    print(f"\ntranscribing notes of {len({p for pair in pairs.values() for p in pair})} files "
          "(Basic Pitch)...", flush=True)
    try:
        scores = note_scores(pairs.values(), out_dir / "notes-cache", out_dir / "notes.log")
    except RuntimeError as exc:
        print(f"no note F1: {exc}", flush=True)
        scores = {}
    for record in records:
        if id(record) in pairs:
            reference, estimate = pairs[id(record)]
            found = scores.get((str(reference), str(estimate)), (math.nan,) * 3)
            record["metrics"].update(dict(zip(("note_precision", "note_recall", "note_f1"),
                                              found, strict=True)))


def fmt(value: float, decimals: int | None = None) -> str:
    """A compact rendering of a median, with ``decimals`` if given."""
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if decimals is not None:
        return f"{value:.{decimals}f}"
    size = abs(value)
    if size >= 100:
        return f"{value:.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if 0 < size < 0.001:
        return f"{value:.0e}"
    return f"{value:.3f}"


def median(values: Sequence[float]) -> float:
    """Median of the non-NaN ``values`` (NaN when none)."""
    kept = [v for v in values if not math.isnan(v)]
    return float(np.median(kept)) if kept else math.nan


def table(records: list[dict[str, Any]], systems: list[System], metrics: Sequence[str],
          title: str) -> str:
    """The summary table: a row per system, medians over its successful tasks."""
    heads = ["system", "ok", *(LABELS.get(m, m) for m in metrics), "xReal", "xCPU"]
    rows = []
    for system in systems:
        mine = [r for r in records if r["system"] == system.name]
        good = [r for r in mine if r["status"] == "ok"]
        cells = [system.name, f"{len(good)}/{len(mine)}"]
        for metric in metrics:
            use = [r for r in good if metric not in PAIRED_ONLY or r["kind"] == "paired"]
            values = [r["metrics"].get(metric, math.nan) for r in use]
            cells.append(fmt(median(values), DECIMALS.get(metric)))
        cells.append(fmt(median([r["rtf"] for r in good]), DECIMALS["rtf"]))
        cells.append(fmt(median([r.get("rtf_cpu", math.nan) for r in good]), DECIMALS["rtf"]))
        rows.append(cells)
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(heads)]
    lines = [title, "  ".join(h.ljust(w) if i == 0 else h.rjust(w)
                              for i, (h, w) in enumerate(zip(heads, widths, strict=True)))]
    lines.append("-" * len(lines[-1]))
    for row in rows:
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(row, widths, strict=True))))
    return "\n".join(lines)


def legend(metrics: Sequence[str]) -> str:
    """What the column headings stand for."""
    pairs = [f"{LABELS.get(m, m)}={m}" for m in metrics if LABELS.get(m, m) != m]
    return ("columns: " + ", ".join(pairs) + ", xReal=content s / wall s, "
            "xCPU=content s / CPU s (all threads); medians over tasks (mcd* over paired tasks "
            "only); ok = runs that succeeded")


def list_systems() -> str:
    """The systems known by name."""
    lines = ["command line (st-<preset>, options with +--opt=value):"]
    lines += [f"  st-{p}" for p in ST_PRESETS]
    lines += [f"  {name}: {' '.join(opts)}" for name, opts in CUSTOM.items()]
    lines += ["baselines:"] + [f"  {name}" for name in BASELINES]
    lines += ["peers (own environment):"] + [f"  {n}: peers/{s}" for n, s in PEERS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; 0 unless the arguments or the corpus are bad."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus",
                        help="folder with tasks.json (default benchmarks/corpus)")
    parser.add_argument("--systems", help="comma-separated systems (default: all; see --list)")
    parser.add_argument("--tasks", help="only tasks whose name holds one of these "
                        "comma-separated words")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "quality",
                        help="folder for the outputs (default benchmarks/out/quality)")
    parser.add_argument("--json", type=Path, help="results file (default OUT/results.json)")
    parser.add_argument("--no-peers", action="store_true", help="leave out the peer systems")
    parser.add_argument("--no-notes", action="store_true",
                        help="leave out the note F1 (no transcriber environment needed)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep stored outputs and measures whose inputs and code are "
                        "unchanged")
    parser.add_argument("--retry-failed", action="store_true",
                        help="with --reuse, run again what failed before")
    parser.add_argument("--by-kind", action="store_true",
                        help="also print the table for paired and for real-music tasks")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds one render may take (default 1800)")
    parser.add_argument("--seed", type=int, default=0, help="seed given to the peers (0)")
    parser.add_argument("--list", action="store_true", help="list the systems and stop")
    args = parser.parse_args(argv)
    if args.list:
        print(list_systems())
        return 0

    try:
        names = [n.strip() for n in (args.systems or ",".join(DEFAULT_SYSTEMS)).split(",")]
        systems = [parse_system(n) for n in names if n]
    except ValueError as exc:
        parser.error(str(exc))
    if args.no_peers:
        systems = [s for s in systems if s.kind != "peer"]
    try:
        tasks = load_tasks(args.corpus, args.tasks)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read {args.corpus / 'tasks.json'}: {exc}", file=sys.stderr)
        return 2
    if not tasks or not systems:
        print("nothing to run: no task or no system selected", file=sys.stderr)
        return 2

    out_dir = args.out.resolve()
    results_path = (args.json or out_dir / "results.json").resolve()
    stored = load_results(results_path)
    peers_error = ""
    if any(s.kind == "peer" for s in systems):
        peers_error = ensure_peers_env()
        if peers_error:
            print(f"peers' environment unavailable, peer runs will fail: {peers_error}",
                  flush=True)

    code = CodeDigests()
    n_jobs = len(tasks) * len(systems)
    print(f"{len(tasks)} tasks x {len(systems)} systems, outputs in {out_dir}", flush=True)
    records = []
    job = 0
    for task in tasks:
        for system in systems:
            job += 1
            key = f"{task.name}|{system.name}"
            record = run_one(system, task, out_dir, stored.get(key), args, code, peers_error)
            stored[key] = record
            save_results(results_path, stored)
            records.append(record)
            head = f"[{job}/{n_jobs}] {task.name} | {system.name}:"
            if record["status"] != "ok":
                print(f"{head} FAILED ({record['error']})", flush=True)
                continue
            m = record["metrics"]
            print(f"{head} {record['wall_s']:.1f} s ({fmt(record['rtf'], 1)}x)"
                  f"{' reused' if record['reused'] else ''}  "
                  f"gainMFCC {fmt(m.get('style_gain_mfcc', math.nan))}  "
                  f"gainTex {fmt(m.get('style_gain_texture', math.nan))}  "
                  f"onset {fmt(m.get('onset_corr', math.nan))}  "
                  f"chroma {fmt(m.get('chroma_cos', math.nan))}", flush=True)

    metrics = list(METRICS)
    if not args.no_notes:
        add_note_scores(records, tasks, out_dir)
        save_results(results_path, stored)
        metrics += NOTE_METRICS
    kinds = sorted({t.kind for t in tasks})
    print()
    print(table(records, systems, metrics,
                f"medians over {len(tasks)} tasks ({', '.join(kinds)})"))
    if args.by_kind:
        for kind in kinds:
            subset = [r for r in records if r["kind"] == kind]
            n = len({r["task"] for r in subset})
            shown = metrics if kind == "paired" else [m for m in metrics if m not in PAIRED_ONLY]
            print()
            print(table(subset, systems, shown, f"medians over the {n} {kind} tasks"))
    print()
    print(legend(metrics))
    failed = [r for r in records if r["status"] != "ok"]
    if failed:
        print(f"{len(failed)} failed runs:")
        for r in failed:
            print(f"  {r['task']} | {r['system']}: {r['error']}")
    print(f"per-task results: {results_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
