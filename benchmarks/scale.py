"""Corpus-scale numbers: learning a GTZAN-shaped corpus, Dask, a corpus mosaic, batch runs.

The corpus is `synth_corpus.py`'s (ten genres of 30 s mono clips at 22.05 kHz, .au),
written once into ``--corpus`` and kept. ``--clips`` takes the first clips of every genre
(default 1,000: the whole corpus, 8.3 h of audio). Sections (``--only``):

- ``learn``: ``styletransfer learn`` on the corpus (``--jobs`` of its default, the number
  of cores): wall time, real-time factor, peak memory, model size and frames;
- ``mixture``: on the first ``--subset`` clips, the learnt model equals the streaming EM of
  `streaming.fit_states`, whose log-likelihood is set beside that of scikit-learn's batch
  `GaussianMixture` started from the same initialisation;
- ``dask``: ``learn --workers 1`` and ``--workers 2`` on the first ``--dask-clips`` clips:
  the speed-up, and whether the two model files are byte for byte the same;
- ``mosaic``: a ``--content-minutes`` content (22.05 kHz stereo) mosaicked
  (``--preset mosaic``) from the model the ``learn`` section wrote, and the recall of the
  nearest-neighbour index the mosaic searches (`neighbours.CellIndex`) against an exact
  search, on the content's own targets;
- ``batch``: ``--batch`` contents (one of them a corrupt file) of ``--batch-seconds`` each
  (44.1 kHz stereo) styled by one ``run`` with ``--jobs 1`` and with ``--jobs 2``: the
  speed-up, the failure reported and the other outputs checked (readable, finite, the
  content's length).

Every command runs in a fresh process. Its wall time is timed here; its CPU time (user +
system) is the larger of what ``wait4`` reports (it and the children it reaped) and the
sum over it and all its descendants sampled every 0.5 s; its peak memory is the
largest total over it and all its descendants (worker processes included) of the
proportional set size, sampled every 0.5 s (shared pages are counted once); without
psutil, the process's own ``ru_maxrss``. The machine's load average is printed with
every section, since other work on it slows the wall clock, not the CPU time. Targets are
printed for information: the exit code is 0 whenever the commands ran.

Usage::

    .venv/bin/python benchmarks/scale.py                        # everything, 1,000 clips
    .venv/bin/python benchmarks/scale.py --clips 50 --subset 20 --dask-clips 50 \\
        --content-minutes 0.5 --batch 6 --batch-seconds 5       # a quick check
    .venv/bin/python benchmarks/scale.py --only mosaic          # one section
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import make_content
from synth_corpus import GENRES, clip_path, make_corpus

SECTIONS = ("learn", "mixture", "dask", "mosaic", "batch")
HERE = Path(__file__).resolve().parent
COMMAND = [sys.executable, "-m", "styletransfer"]
#: Seconds between samples of a command's process tree (reading a process's PSS walks its
#: page tables: at 0.1 s the sampling took a tenth of a core of its own).
SAMPLE_SECONDS = 0.5


@dataclass(frozen=True)
class Run:
    """One command: wall and CPU seconds, peak memory (MiB), exit code and stderr."""

    wall: float
    cpu: float
    peak_mib: float
    code: int
    stderr: str


def _tree_sample(pid: int, cpu: dict[tuple[int, float], float]) -> int:
    """Proportional set size, in bytes, of process ``pid`` and all its descendants; the
    CPU seconds each has used so far are put into ``cpu``."""
    import psutil

    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in processes:
        try:
            with process.oneshot():
                total += int(process.memory_full_info().pss)
                times = process.cpu_times()
                cpu[(process.pid, process.create_time())] = times.user + times.system
        except psutil.Error:
            continue
    return total


def run(arguments: list[str], *, expect: tuple[int, ...] = (0,)) -> Run:
    """Run the command with ``arguments`` in a fresh process (see the module notes)."""
    try:
        import psutil  # noqa: F401
        sampling = True
    except ImportError:
        sampling = False
    peak = [0]
    cpu: dict[tuple[int, float], float] = {}
    with tempfile.TemporaryFile() as errors:
        started = time.perf_counter()
        process = subprocess.Popen([*COMMAND, *arguments], stdout=subprocess.DEVNULL,
                                   stderr=errors)
        finished = threading.Event()

        def sample() -> None:
            while not finished.wait(SAMPLE_SECONDS):
                peak[0] = max(peak[0], _tree_sample(process.pid, cpu))

        sampler = threading.Thread(target=sample, daemon=True)
        if sampling:
            sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        finished.set()
        if sampling:
            sampler.join()
        process.returncode = code = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        message = errors.read().decode(errors="replace")
    if code not in expect:
        raise RuntimeError(f"styletransfer {' '.join(arguments[:3])} ... failed ({code}): "
                           f"{message.strip()[-2000:]}")
    # a child's ru_maxrss starts from its parent's resident size at the fork (Linux), so
    # it is only the fallback when the process tree could not be sampled
    rss = 0 if sampling else usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    # wait4 counts the processes it reaped; workers started by a pool's server process
    # are not among them, so the sampled total of the process tree can be the larger
    return Run(wall=wall, cpu=max(usage.ru_utime + usage.ru_stime, sum(cpu.values())),
               peak_mib=max(peak[0], rss) / 2**20, code=code, stderr=message)


def load() -> str:
    """The load averages over 1, 5 and 15 minutes."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def heading(title: str) -> None:
    print(f"\n== {title}  (load average {load()}; {os.cpu_count()} cores)", flush=True)


def line(label: str, value: str, target: str = "") -> None:
    print(f"  {label:<34} {value:<28} {target}", flush=True)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def corpus_paths(corpus: Path, clips: int) -> list[Path]:
    """The first ``clips // 10`` clips of every genre (written when missing)."""
    per_genre = max(1, clips // len(GENRES))
    make_corpus(corpus, clips_per_genre=per_genre, jobs=os.cpu_count() or 1)
    return [clip_path(corpus, genre, index) for genre in GENRES for index in range(per_genre)]


def audio_seconds(paths: list[Path]) -> float:
    return sum(sf.info(str(p)).duration for p in paths)


def learn_arguments(paths: list[Path], corpus: Path, model: Path) -> list[str]:
    """``learn`` on the folder when all of it is wanted, else on the files."""
    every = len(paths) == len(GENRES) * 100 and all(p.is_relative_to(corpus) for p in paths)
    sources = [str(corpus / "genres")] if every else [str(p) for p in paths]
    return ["learn", *sources, "-o", str(model), "--force", "-q"]


def section_learn(paths: list[Path], corpus: Path, out: Path) -> Path:
    heading(f"learn: {len(paths)} clips of 30 s")
    model = out / "corpus.npz"
    seconds = audio_seconds(paths)
    result = run(learn_arguments(paths, corpus, model))
    factor = seconds / result.wall
    size = model.stat().st_size / 2**20
    line("audio", f"{seconds / 3600:.2f} h")
    line("wall, CPU", f"{result.wall:.1f} s, {result.cpu:.1f} s")
    line("real-time factor", f"{factor:.0f}x", f"target >= 150x: {verdict(factor >= 150)}")
    line("  per CPU second", f"{seconds / result.cpu:.0f}x")
    line("peak memory (all processes)", f"{result.peak_mib:.0f} MiB",
         f"target < 1 GB: {verdict(result.peak_mib * 2**20 < 1e9)}")
    line("model size", f"{size:.1f} MiB", f"target < 50 MB: {verdict(size * 2**20 < 50e6)}")
    from styletransfer import StyleModel

    learnt, _ = StyleModel.load(model)
    line("frames, states", f"{len(learnt.labels_)}, {learnt.n_states_}")
    line("streaming log-likelihood / frame", f"{learnt.log_likelihood_:.6f}")
    return model


def section_mixture(paths: list[Path]) -> None:
    from sklearn.mixture import GaussianMixture

    from styletransfer import Settings
    from styletransfer.cluster import LocalRunner
    from styletransfer.corpus import corpus_shards, learn_corpus
    from styletransfer.model import single_threaded
    from styletransfer.streaming import EM_MAX_ITER, EM_TOL, REG_COVAR, fit_states

    heading(f"mixture: streaming EM against batch GaussianMixture, {len(paths)} clips")
    settings = Settings()
    runner = LocalRunner(os.cpu_count() or 1)
    try:
        model, _ = learn_corpus(paths, settings=settings, runner=runner)
    finally:
        runner.close()
    assert model.index_ is not None
    shards = corpus_shards(model.features_, [e.frames for e in model.index_.entries])
    sizes = [s.n_frames for s in shards]

    def on_shards(function: Callable[..., Any], **arguments: Any) -> list[Any]:
        return [function(shard, **arguments) for shard in shards]

    k, n_bands, seed = settings.clusters, model.n_bands_, settings.seed
    with single_threaded():
        start = fit_states(on_shards, sizes, n_states=k, n_bands=n_bands, seed=seed,
                           max_iter=0)
        streamed = fit_states(on_shards, sizes, n_states=k, n_bands=n_bands, seed=seed)
    same = all(np.array_equal(a, b) for a, b in ((streamed.means, model.means_),
                                                 (streamed.variances, model.variances_),
                                                 (streamed.weights, model.weights_)))
    z = (model.features_.astype(np.float64) - start.mean) / start.scale
    started = time.perf_counter()
    batch = GaussianMixture(len(start.weights), covariance_type="diag", reg_covar=REG_COVAR,
                            tol=EM_TOL, max_iter=EM_MAX_ITER, weights_init=start.weights,
                            means_init=start.means, precisions_init=1.0 / start.variances,
                            random_state=0).fit(z)
    batch_seconds = time.perf_counter() - started
    score = float(batch.score(z))
    relative = abs(score - streamed.log_likelihood) / abs(score)
    line("frames", f"{len(z)}")
    line("learn equals the streaming EM", "yes" if same else "NO")
    line("EM passes (streaming, batch)", f"{streamed.n_iter}, {batch.n_iter_}")
    line("log-likelihood / frame, streaming", f"{streamed.log_likelihood:.9f}")
    line("log-likelihood / frame, batch", f"{score:.9f}", f"(batch fit {batch_seconds:.1f} s)")
    line("relative difference", f"{relative:.2e}", f"target <= 1e-6: {verdict(relative <= 1e-6)}")
    agree = float(np.mean(batch.predict(z) == streamed.labels))
    line("labels agreeing", f"{agree:.6f}")


def section_dask(paths: list[Path], corpus: Path, out: Path) -> None:
    heading(f"dask: learn --workers 1 and --workers 2, {len(paths)} clips")
    seconds = audio_seconds(paths)
    results = {}
    for workers in (1, 2):
        model = out / f"dask-{workers}.npz"
        results[workers] = run([*learn_arguments(paths, corpus, model), "--workers",
                                str(workers)])
        result = results[workers]
        line(f"--workers {workers}: wall, CPU", f"{result.wall:.1f} s, {result.cpu:.1f} s",
             f"{seconds / result.wall:.0f}x real time, peak {result.peak_mib:.0f} MiB")
    speedup = results[1].wall / results[2].wall
    line("speed-up", f"{speedup:.2f}x", f"target >= 1.6x: {verdict(speedup >= 1.6)}")
    equal = (out / "dask-1.npz").read_bytes() == (out / "dask-2.npz").read_bytes()
    line("model files equal", "yes, byte for byte" if equal else "NO")


def section_mosaic(model: Path, minutes: float, out: Path) -> None:
    heading(f"mosaic: a {minutes:g}-minute content from the corpus model")
    if not model.exists():
        print("  (no model: run the learn section first)")
        return
    content = out / "content-22k.wav"
    sr = 22050
    sf.write(content, make_content(minutes * 60, sr=sr).T, sr, subtype="PCM_24")
    output = out / "content-22k.mosaic.wav"
    result = run(["run", str(content), "--style", str(model), "--preset", "mosaic", "-o",
                  str(output), "--force", "-q"])
    line("wall, CPU", f"{result.wall:.1f} s, {result.cpu:.1f} s",
         f"target <= 30 s: {verdict(result.wall <= 30)}")
    line("peak memory", f"{result.peak_mib:.0f} MiB",
         f"target <= 1 GB: {verdict(result.peak_mib * 2**20 <= 1e9)}")
    y, _ = sf.read(output)
    line("output", f"{len(y) / sr:.1f} s, peak {20 * np.log10(np.abs(y).max()):.1f} dBFS")
    recall(model, content)


def recall(model_path: Path, content_path: Path, queries: int = 400, k: int = 8) -> None:
    """Recall of the cell index against an exact search, on the content's targets."""
    from styletransfer import StyleModel, analyse
    from styletransfer.mapping import map_content
    from styletransfer.neighbours import EXACT_ROWS, CellIndex

    model, _ = StyleModel.load(model_path)
    if len(model.features_) < EXACT_ROWS:
        line("neighbour search", "exact (NearestNeighbors)",
             f"fewer than {EXACT_ROWS} frames")
        return
    y, sr = sf.read(content_path, dtype="float32", always_2d=True)
    content = analyse(y.T, sr)
    targets = map_content(content, model, smoothing=5, seed=0).target_features
    targets = targets[np.linspace(0, len(targets) - 1, queries).astype(int)]
    points = (model.features_ - model.mean_.astype(np.float32)) / model.scale_.astype(
        np.float32)
    started = time.perf_counter()
    index = CellIndex(points)
    built = time.perf_counter() - started
    started = time.perf_counter()
    _, found = index.query(targets, k)
    searched = time.perf_counter() - started
    exact = np.empty((len(targets), k), dtype=np.int64)
    norms = np.einsum("ij,ij->i", points, points, dtype=np.float64)
    best = np.full((len(targets), k), np.inf)
    for first in range(0, len(points), 1 << 17):
        rows = points[first:first + (1 << 17)].astype(np.float64)
        squared = norms[first:first + len(rows)][None, :] - 2.0 * targets @ rows.T
        both = np.hstack([best, squared])
        ids = np.hstack([exact if first else np.zeros_like(exact),
                         np.broadcast_to(np.arange(first, first + len(rows)),
                                         (len(targets), len(rows)))])
        keep = np.argsort(both, axis=1)[:, :k]
        best, exact = np.take_along_axis(both, keep, 1), np.take_along_axis(ids, keep, 1)
    share = np.mean([len(set(a) & set(b)) / k for a, b in zip(found, exact, strict=True)])
    first_found = float(np.mean(found[:, 0] == exact[:, 0]))
    line("cell index: build, query", f"{built:.1f} s, {searched:.2f} s",
         f"{len(index.centres)} cells, {len(points)} frames")
    line(f"recall of the {k} nearest", f"{share:.3f}", f"nearest found: {first_found:.3f}")


def section_batch(count: int, seconds: float, style: Path, out: Path) -> None:
    heading(f"batch: {count} contents of {seconds:g} s (one corrupt), --jobs 1 and 2")
    folder = out / "batch-in"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    contents = []
    for index in range(count - 1):
        path = folder / f"content{index:03d}.wav"
        sf.write(path, np.roll(make_content(seconds, seed=index), 997 * index, axis=1).T,
                 44100, subtype="PCM_24")
        contents.append(path)
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt this is not audio")
    given = [*contents[: len(contents) // 2], corrupt, *contents[len(contents) // 2:]]
    results = {}
    for jobs in (1, 2):
        target = out / f"batch-jobs{jobs}"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir()
        result = run(["run", *map(str, given), "--style", str(style), "-o", str(target),
                      "--jobs", str(jobs), "-q"], expect=(1,))
        results[jobs] = result
        errors = [text for text in result.stderr.splitlines() if "error" in text]
        named = sum(str(corrupt) in text for text in errors)
        valid = 0
        for path in contents:
            styled = target / f"{path.stem}.styled.wav"
            if styled.exists():
                y, _ = sf.read(styled)
                valid += int(len(y) == sf.info(str(path)).frames and np.all(np.isfinite(y))
                             and np.abs(y).max() > 0)
        line(f"--jobs {jobs}: wall, CPU", f"{result.wall:.1f} s, {result.cpu:.1f} s",
             f"{(count - 1) * seconds / result.wall:.0f}x real time, "
             f"peak {result.peak_mib:.0f} MiB")
        line(f"--jobs {jobs}: exit, outputs valid", f"{result.code}, {valid} of {count - 1}",
             f"corrupt file named in {named} line(s); last: {errors[-1] if errors else '-'}")
    speedup = results[1].wall / results[2].wall
    line("speed-up", f"{speedup:.2f}x", f"target >= 1.7x: {verdict(speedup >= 1.7)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "out" / "gtzan",
                        help="where the synthesised corpus is (written when missing)")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "scale",
                        help="folder for models and outputs")
    parser.add_argument("--clips", type=int, default=1000, help="clips learnt (10 to 1000)")
    parser.add_argument("--subset", type=int, default=100,
                        help="clips of the mixture comparison")
    parser.add_argument("--dask-clips", type=int, default=None,
                        help="clips of the Dask comparison (default: --clips)")
    parser.add_argument("--content-minutes", type=float, default=3.0)
    parser.add_argument("--batch", type=int, default=50, help="contents of a batch run")
    parser.add_argument("--batch-seconds", type=float, default=20.0)
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {', '.join(SECTIONS)}")
    args = parser.parse_args(argv)
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not 10 <= args.clips <= 1000:
        parser.error(f"unknown sections {unknown}" if unknown else "--clips: 10 to 1000")
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"styletransfer scale benchmark: {os.cpu_count()} cores, load average {load()}",
          flush=True)
    paths = corpus_paths(args.corpus, args.clips)
    model = args.out / "corpus.npz"
    if "learn" in sections:
        model = section_learn(paths, args.corpus, args.out)
    if "mixture" in sections:
        section_mixture(corpus_paths(args.corpus, min(args.subset, args.clips)))
    if "dask" in sections:
        section_dask(corpus_paths(args.corpus, args.dask_clips or args.clips), args.corpus,
                     args.out)
    if "mosaic" in sections:
        section_mosaic(model, args.content_minutes, args.out)
    if "batch" in sections:
        section_batch(args.batch, args.batch_seconds, paths[0], args.out)
    print(f"\ndone (load average {load()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
