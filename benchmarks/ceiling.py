"""How near can band gains on the content come to the ground truth? An oracle bound.

For every paired task of the corpus (content = piece A on instrument X, truth = piece A on
instrument Y), the timbre resynthesis is given the *truth's own* band shape in every frame,
as if the mapping were perfect: the content's bands are gained so that each frame takes the
truth's band shape at the content's loudness, and rendered by the numpy engine. The
output's MCD to the truth, against the content's, bounds what any mapping can reach with
gains on the content's own sound at that band resolution. Two oracles: ``as planned`` goes
through ``band_gains`` with the smoothing across bands of ``plan_timbre`` (what the tool
would render from a perfect target), ``exact`` sets every band to the truth's share without
smoothing, guard or bound (gains within +-60 dB). Prints the median ``mcd_reduction`` (and
each task's) per bands-per-octave.

Usage::

    .venv/bin/python benchmarks/ceiling.py [--corpus benchmarks/corpus] [--bands 1,2,4,8]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from quality import Task, load_tasks  # noqa: E402

from styletransfer import RenderPlan, analyse, render  # noqa: E402
from styletransfer.audio import limit_peak, load, to_channels  # noqa: E402
from styletransfer.evaluate import evaluate  # noqa: E402
from styletransfer.transfer import timbre_gains  # noqa: E402


def oracle_render(content: np.ndarray, truth: np.ndarray, sr: int,
                  bands_per_octave: int, exact: bool = False) -> np.ndarray:
    """The content with, in every frame, the band shape of the truth's same frame.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((1, 22050))
    >>> bool(np.allclose(oracle_render(y, y, 22050, 1), y, atol=1e-6))
    True
    """
    a = analyse(content, sr, bands_per_octave=bands_per_octave)
    t = analyse(to_channels(truth, a.n_channels)[:, :a.n_samples], sr, level=a.level,
                bands_per_octave=bands_per_octave)
    wanted_shape = t.band_shape()
    if t.n_frames < a.n_frames:  # a shorter truth: hold its last frame
        wanted_shape = np.vstack([wanted_shape,
                                  np.repeat(wanted_shape[-1:], a.n_frames - t.n_frames, 0)])
    wanted_shape = wanted_shape[: a.n_frames]
    if exact:
        share = np.exp(wanted_shape)
        share /= share.sum(axis=1, keepdims=True)
        total = a.energy.sum(axis=1, keepdims=True)
        floor = 1e-12 * float(total.mean()) + 1e-30
        ratio = (total * share + floor) / (a.energy + floor)
        gains = np.sqrt(np.clip(ratio, 1e-6, 1e6)).astype(np.float32)
    else:
        gains = timbre_gains(a, wanted_shape, strength=1.0, max_boost_db=24.0)
    plan = RenderPlan(mode="timbre", sr=sr, n_samples=a.n_samples, n_channels=a.n_channels,
                      wavelet=a.wavelet, level=a.level, hop=a.hop, gains=gains,
                      segments=np.full(a.n_frames, -1, dtype=np.int64), shifts=2,
                      bands_per_octave=bands_per_octave)
    return render(plan, a)


def reduction(task: Task, bands_per_octave: int, exact: bool) -> float:
    """The oracle's ``mcd_reduction`` on ``task``."""
    assert task.truth is not None
    content, sr = load(task.content)
    style, _ = load(task.style, sr=sr)
    truth, _ = load(task.truth, sr=sr)
    output, _ = limit_peak(oracle_render(content, truth, sr, bands_per_octave, exact))
    return evaluate(content, style, output, sr, truth=truth)["mcd_reduction"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus",
                        help="folder with tasks.json (default benchmarks/corpus)")
    parser.add_argument("--bands", default="1,2,4,8",
                        help="bands per octave to try, comma-separated (default 1,2,4,8)")
    args = parser.parse_args(argv)
    try:
        tasks = [t for t in load_tasks(args.corpus, None) if t.truth is not None]
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read {args.corpus / 'tasks.json'}: {exc}: build it with "
              "benchmarks/corpus.py", file=sys.stderr)
        return 2
    if not tasks:
        print("no paired task (with a truth) in the corpus", file=sys.stderr)
        return 2
    print(f"oracle band shapes on {len(tasks)} paired tasks: MCD reduction the timbre "
          "resynthesis reaches when every frame gets the truth's own band shape")
    print(f"{'oracle':>10}  {'bands/octave':>12}  {'median':>6}  per task")
    for exact in (False, True):
        for bands in (int(b) for b in args.bands.split(",")):
            values = [reduction(task, bands, exact) for task in tasks]
            print(f"{'exact' if exact else 'as planned':>10}  {bands:>12}  "
                  f"{np.median(values):6.3f}  " + " ".join(f"{v:.2f}" for v in values),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
