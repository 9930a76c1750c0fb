"""How near can the transfer come to the ground truth? Oracle bounds on the MCD cut.

For every paired task of the corpus (content = piece A on instrument X, truth = piece A on
instrument Y, style = piece B on Y), the transfer is handed what it could never know, the
truth itself, and the output's MCD to the truth, against the content's, is measured: how
far a perfect mapping would get. Prints the median ``mcd_reduction`` (and each task's) of:

- ``gains, as planned``: the timbre resynthesis gives every frame of the content the
  *truth's own* band shape at the content's loudness, through ``timbre_gains`` (the
  smoothing across bands, guard and bound of ``plan_timbre``), per bands-per-octave;
- ``gains, exact``: the same with every band set exactly to the truth's share (no
  smoothing, guard or bound; gains within +-60 dB): the bound of any gain on the content's
  own sound at that band resolution;
- ``frame targets, best frames``: the ``instrument`` preset's resynthesis (gains on the
  content towards a style frame's band shape, quarter-octave bands, its boost and guard)
  with, for every frame, the style frame (style transposed up to 2 semitones, as the preset
  does) whose band shape is nearest the *truth's*: the bound of that preset's kind of
  transfer, however well it chose its frames;
- ``mosaic, truth targets``: the ``melodic`` mosaic (style transposed up to 2 semitones)
  choosing style frames near the *truth's* features instead of the mapped ones;
- ``mosaic, best frames``: no rendering, the bound of any mosaic playing one style frame
  at a time: each truth frame is given the style frame (of the style transposed by up to
  ``--transpose`` semitones, by resampling) whose mel cepstrum is nearest its own, and the
  MCD of that choice is taken, per transposition range.

Usage::

    .venv/bin/python benchmarks/ceiling.py [--corpus benchmarks/corpus] [--bands 1,2,4,8]
                                           [--transpose 0,2]
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from quality import Task, load_tasks  # noqa: E402

from styletransfer import RenderPlan, StyleModel, analyse, render  # noqa: E402
from styletransfer.analysis import Analysis  # noqa: E402
from styletransfer.audio import limit_peak, load, to_channels  # noqa: E402
from styletransfer.evaluate import evaluate, mcd_per_frame, mel_cepstra  # noqa: E402
from styletransfer.mapping import map_content  # noqa: E402
from styletransfer.presets import load_preset  # noqa: E402
from styletransfer.styles import (  # noqa: E402
    analyse_styles,
    concatenate,
    mosaic_sources,
    style_frames,
)
from styletransfer.transfer import (  # noqa: E402
    analysis_grid,
    plan_mosaic,
    render_plan,
    timbre_gains,
)

#: The preset whose mosaic ``mosaic_render`` plays with the truth's features as targets.
MOSAIC_PRESET = "melodic"


def truth_frames(values: np.ndarray, n_frames: int) -> np.ndarray:
    """``values`` (one row per truth frame) cut or held at its last row to ``n_frames``."""
    if len(values) < n_frames:
        values = np.vstack([values, np.repeat(values[-1:], n_frames - len(values), 0)])
    return values[:n_frames]


def truth_analysis(truth: np.ndarray, content: Analysis) -> Analysis:
    """The truth analysed on ``content``'s grid (channels, length, depth, hop and bands)."""
    return analyse(to_channels(truth, content.n_channels)[:, :content.n_samples], content.sr,
                   wavelet=content.wavelet, level=content.level, hop=content.hop,
                   bands_per_octave=content.bands_per_octave)


def oracle_render(content: np.ndarray, truth: np.ndarray, sr: int,
                  bands_per_octave: int, exact: bool = False, *, max_boost_db: float = 24.0,
                  guard_db: float = -30.0) -> np.ndarray:
    """The content with, in every frame, the band shape of the truth's same frame.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal((1, 22050))
    >>> bool(np.allclose(oracle_render(y, y, 22050, 1), y, atol=1e-6))
    True
    """
    a = analyse(content, sr, bands_per_octave=bands_per_octave)
    wanted_shape = truth_frames(truth_analysis(truth, a).band_shape(), a.n_frames)
    if exact:
        share = np.exp(wanted_shape)
        share /= share.sum(axis=1, keepdims=True)
        total = a.energy.sum(axis=1, keepdims=True)
        floor = 1e-12 * float(total.mean()) + 1e-30
        ratio = (total * share + floor) / (a.energy + floor)
        gains = np.sqrt(np.clip(ratio, 1e-6, 1e6)).astype(np.float32)
    else:
        gains = timbre_gains(a, wanted_shape, strength=1.0, max_boost_db=max_boost_db,
                             guard_db=guard_db)
    plan = RenderPlan(mode="timbre", sr=sr, n_samples=a.n_samples, n_channels=a.n_channels,
                      wavelet=a.wavelet, level=a.level, hop=a.hop, gains=gains,
                      segments=np.full(a.n_frames, -1, dtype=np.int64), shifts=2,
                      bands_per_octave=bands_per_octave)
    return render(plan, a)


def mosaic_render(content: np.ndarray, style: np.ndarray, truth: np.ndarray,
                  sr: int) -> np.ndarray:
    """The `MOSAIC_PRESET` mosaic of ``style`` on ``content``, its frames chosen near the
    truth's features instead of the mapped content's (pitch still read from the content)."""
    settings = load_preset(MOSAIC_PRESET).settings.checked()
    level, hop = analysis_grid(settings, sr)
    a = analyse(content, sr, wavelet=settings.wavelet, level=level, hop=hop,
                bands_per_octave=settings.bands_per_octave)
    styles = analyse_styles([(style, sr)], sr=sr, n_channels=a.n_channels, settings=settings,
                            level=level, hop=hop)
    model = StyleModel(settings.clusters, seed=settings.seed).fit(styles)
    mapping = map_content(a, model, smoothing=settings.smoothing, seed=settings.seed)
    truth_features = truth_frames(truth_analysis(truth, a).features(), a.n_frames)
    mapping = dataclasses.replace(
        mapping, target_features=(truth_features - model.mean_) / model.scale_)
    sources = mosaic_sources(styles, settings.transpose)
    played = concatenate(sources)
    plan = plan_mosaic(a, model, played, mapping, settings,
                       frames=style_frames(sources, model, pitch=settings.pitch > 0))
    return render_plan(plan, a, played)


def best_frames_cut(content: np.ndarray, style: np.ndarray, truth: np.ndarray, sr: int,
                    transpose: int) -> float:
    """``mcd_reduction`` of a choice of style frames, each the nearest in mel cepstrum to
    its truth frame, among the style resampled by -``transpose``..+``transpose`` semitones.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(22050)
    >>> best_frames_cut(y[::-1].copy(), y, y, 22050, 0)
    1.0
    """
    import soxr

    target = mel_cepstra(truth, sr)
    pool = []
    for semitones in range(-transpose, transpose + 1):
        shifted = style if semitones == 0 else soxr.resample(
            np.ascontiguousarray(np.atleast_2d(style).T), sr * 2.0 ** (semitones / 12), sr).T
        pool.append(mel_cepstra(np.ascontiguousarray(shifted), sr))
    candidates = np.hstack(pool)
    squared = (np.sum(target**2, axis=0)[:, None] - 2 * target.T @ candidates
               + np.sum(candidates**2, axis=0)[None, :])
    chosen = candidates[:, np.argmin(squared, axis=1)]
    return 1.0 - float(np.mean(mcd_per_frame(chosen, target))
                       / np.mean(mcd_per_frame(mel_cepstra(content, sr), target)))


def frame_targets_render(content: np.ndarray, style: np.ndarray, truth: np.ndarray,
                         sr: int) -> np.ndarray:
    """The ``instrument`` preset's rendering with each frame's target the band shape of the
    style frame (style transposed as the preset does) nearest the truth frame's."""
    settings = load_preset("instrument").settings.checked()
    level, hop = analysis_grid(settings, sr)
    a = analyse(content, sr, level=level, hop=hop, bands_per_octave=settings.bands_per_octave)
    styles = analyse_styles([(style, sr)], sr=sr, n_channels=1, settings=settings,
                            level=level, hop=hop)
    pool = concatenate(mosaic_sources(styles, settings.transpose)).band_shape()
    wanted = truth_frames(truth_analysis(truth, a).band_shape(), a.n_frames)
    squared = (np.sum(wanted**2, axis=1)[:, None] - 2 * wanted @ pool.T
               + np.sum(pool**2, axis=1)[None, :])
    gains = timbre_gains(a, pool[np.argmin(squared, axis=1)], strength=1.0,
                         max_boost_db=settings.max_boost_db, guard_db=settings.guard_db)
    plan = RenderPlan(mode="timbre", sr=sr, n_samples=a.n_samples, n_channels=a.n_channels,
                      wavelet=a.wavelet, level=a.level, hop=a.hop, gains=gains,
                      segments=np.full(a.n_frames, -1, dtype=np.int64), shifts=2,
                      bands_per_octave=a.bands_per_octave)
    return render(plan, a)


def task_audio(task: Task) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Content, style and truth of a paired ``task``, at the content's rate."""
    assert task.truth is not None
    content, sr = load(task.content)
    style, _ = load(task.style, sr=sr)
    truth, _ = load(task.truth, sr=sr)
    return content, style, truth, sr


def reduction(task: Task, render_one: Callable[[np.ndarray, np.ndarray, np.ndarray, int],
                                               np.ndarray]) -> float:
    """``mcd_reduction`` of ``render_one(content, style, truth, sr)`` on ``task``."""
    content, style, truth, sr = task_audio(task)
    output, _ = limit_peak(render_one(content, style, truth, sr))
    return evaluate(content, style, output, sr, truth=truth)["mcd_reduction"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus",
                        help="folder with tasks.json (default benchmarks/corpus)")
    parser.add_argument("--bands", default="1,2,4,8",
                        help="bands per octave of the gain oracles, comma-separated "
                             "(default 1,2,4,8)")
    parser.add_argument("--max-boost-db", type=float, default=24.0,
                        help="largest boost of the 'as planned' gains (default 24, as fine; "
                        "instrument: 36)")
    parser.add_argument("--guard-db", type=float, default=-30.0,
                        help="octave share from which boosts are allowed in full (default -30; "
                        "instrument: -50)")
    parser.add_argument("--gains-only", action="store_true", help="only the gain oracles")
    parser.add_argument("--transpose", default="0,2",
                        help="transpositions (semitones each way) of the best-frames bound, "
                             "comma-separated (default 0,2)")
    args = parser.parse_args(argv)
    try:
        bands = [int(b) for b in args.bands.split(",")]
        transpositions = [int(t) for t in args.transpose.split(",")]
    except ValueError:
        print("--bands and --transpose take comma-separated integers, e.g. --bands 1,4",
              file=sys.stderr)
        return 2
    try:
        tasks = [t for t in load_tasks(args.corpus, None) if t.truth is not None]
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot read {args.corpus / 'tasks.json'}: {exc}: build it with "
              "benchmarks/corpus.py", file=sys.stderr)
        return 2
    if not tasks:
        print("no paired task (with a truth) in the corpus", file=sys.stderr)
        return 2
    print(f"oracles on {len(tasks)} paired tasks: the MCD reduction reached when the truth "
          "itself guides the transfer")
    print(f"{'oracle':>22}  {'setting':>16}  {'median':>6}  per task")

    def row(oracle: str, setting: str, values: list[float]) -> None:
        print(f"{oracle:>22}  {setting:>16}  {np.median(values):6.3f}  "
              + " ".join(f"{v:.2f}" for v in values), flush=True)

    for exact in (False, True):
        for b in bands:
            def gains(c: np.ndarray, s: np.ndarray, t: np.ndarray, sr: int,
                      b: int = b, exact: bool = exact) -> np.ndarray:
                return oracle_render(c, t, sr, b, exact, max_boost_db=args.max_boost_db,
                                     guard_db=args.guard_db)

            row(f"gains, {'exact' if exact else 'as planned'}", f"{b} bands/octave",
                [reduction(task, gains) for task in tasks])
    row("frame targets, best frames", "instrument",
        [reduction(task, frame_targets_render) for task in tasks])
    if args.gains_only:
        return 0
    row("mosaic, truth targets", MOSAIC_PRESET, [reduction(task, mosaic_render) for task in tasks])
    for semitones in transpositions:
        row("mosaic, best frames", f"+-{semitones} semitones",
            [best_frames_cut(*task_audio(task), transpose=semitones) for task in tasks])
    return 0


if __name__ == "__main__":
    sys.exit(main())
