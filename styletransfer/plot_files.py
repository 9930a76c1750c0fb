"""File-level jobs of pictures: a saved plan's picture (``styletransfer plot``) and the
picture a run draws of itself (``run --plot``), from paths on disk, checked first and
written atomically.

Examples
--------
>>> plot_plan_file("song.plan.npz", "song.png", output="song.styled.wav")  # doctest: +SKIP
PosixPath('song.png')
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from . import audio
from .analysis import band_energy
from .atomic import atomic_target
from .errors import ParameterError
from .files import _plan_content, _plan_paths, _plan_styles, _render
from .plan import RenderPlan
from .settings import Settings
from .styles import analyse_styles, concatenate


def plot_plan_file(plan_path: str | os.PathLike[str], picture: str | os.PathLike[str], *,
                   content: str | os.PathLike[str] | None = None,
                   styles: Sequence[str | os.PathLike[str]] | None = None,
                   output: str | os.PathLike[str] | None = None, measure: bool = False,
                   force: bool = False) -> Path:
    """Draw the picture (`plot.run_figure`) of a plan saved with ``run --save-plan`` (or
    ``synth --save-plan``: a synthesis, drawn without content).

    The content and style are read from the files the plan names (or ``content`` and
    ``styles``) and analysed on the plan's grid; the output is read from ``output``, or
    without it the plan is rendered here with the numpy engine. With ``measure`` the
    `evaluate` measures go in the title.

    Examples
    --------
    >>> plot_plan_file("song.plan.npz", "song.png", output="song.styled.wav")  # doctest: +SKIP
    PosixPath('song.png')
    """
    plan = RenderPlan.load(plan_path)
    if plan.is_synthesis:
        return _plot_synthesis(plan_path, plan, picture, content=content, styles=styles,
                               output=output, measure=measure, force=force)
    content_path, style_paths = _plan_paths(plan_path, plan, content, styles)
    if measure and not style_paths:
        raise ParameterError(f"{plan_path}: the plan names no style files to measure against: "
                             "give --style")
    from .plot import check_png_target

    target = check_png_target(picture, inputs=(plan_path, content_path, *style_paths,
                                               *([output] if output else [])), force=force)
    y, exponent, content_analysis = _plan_content(plan, content_path, None)
    style_analysis, tracks, originals = _plan_styles(plan, style_paths)
    if output is not None:
        result = _plan_output(plan, output)
    else:
        result = _render(plan, content_analysis, style_analysis, engine="numpy", keep_score=None,
                         exponent=exponent)
    if measure and not tracks:
        raise ParameterError(f"{style_paths[0]}: holds no audio to measure the result against: "
                             "give the style's audio files with --style")
    measures = run_measures(y, tracks, result, plan.sr) if measure else None
    with atomic_target(target, force=force) as temp:
        draw_run(temp, plan, content_analysis.energy, result,
                  style_analysis.energy if style_analysis is not None else None,
                  style_frames=originals, measures=measures)
    return Path(picture)


def _plot_synthesis(plan_path: str | os.PathLike[str], plan: RenderPlan,
                    picture: str | os.PathLike[str], *, content: str | os.PathLike[str] | None,
                    styles: Sequence[str | os.PathLike[str]] | None,
                    output: str | os.PathLike[str] | None, measure: bool, force: bool) -> Path:
    """`plot_plan_file` of a synthesis plan: no content, the output read or rendered."""
    from .plot import check_png_target
    from .synth_files import synth_plan_style
    from .synth_render import render_synth

    if content is not None or measure:
        raise ParameterError(f"{plan_path}: a synthesis plan has no content to show or to "
                             "measure against: leave out --content and --measure")
    paths = list(styles) if styles else list(plan.sources.get("styles") or [])
    target = check_png_target(picture, inputs=(plan_path, *paths, *([output] if output else [])),
                              force=force)
    style, _ = synth_plan_style(plan_path, plan, styles)
    result = _plan_output(plan, output) if output is not None else render_synth(plan, style)
    with atomic_target(target, force=force) as temp:
        draw_run(temp, plan, None, result, style.energy, style_frames=None, measures=None)
    return Path(picture)


def _plan_output(plan: RenderPlan, output: str | os.PathLike[str]) -> np.ndarray:
    """The audio of ``output``, checked to be what ``plan`` makes (channels, length, rate)."""
    result, sr = audio.load(output)
    if sr != plan.sr or result.shape != (plan.n_channels, plan.n_samples):
        raise ParameterError(f"{output}: is not an output of this plan ({result.shape[0]} "
                             f"channels, {result.shape[1]} samples at {sr} Hz; the plan "
                             f"makes {plan.n_channels}, {plan.n_samples} at {plan.sr} Hz): "
                             "give the right file with --output, or none to render it")
    return result


def check_picture(picture: str | os.PathLike[str] | None, measure: bool, *,
                   inputs: tuple[str | os.PathLike[str], ...], force: bool) -> Path | None:
    """Check a run's picture path before any work (see `plot.check_png_target`); the other
    outputs cannot take its name, as they end in other ways."""
    if picture is None:
        if measure:
            raise ParameterError("--measure goes with --plot: name the picture to write")
        return None
    from .plot import check_png_target

    return check_png_target(picture, inputs=inputs, force=force)


def draw_run(path: Path, plan: RenderPlan, content: np.ndarray | None,
              output: np.ndarray | Callable[[], np.ndarray], style: np.ndarray | None,
              *, style_frames: int | None, measures: Mapping[str, float] | None) -> None:
    """Draw the run's picture (`plot.write_run_png`) into ``path``: its other panels while
    the band energy of the ``output`` is measured, in a second thread (in PyWavelets, not
    in Python) for output audio, or by ``output`` when it is a function."""
    from .plot import write_run_png

    with ThreadPoolExecutor(max_workers=1) as pool:
        energy = output if callable(output) else pool.submit(output_energy, output, plan).result
        write_run_png(path, plan, content, energy, style, style_frames=style_frames,
                      measures=measures)


def output_energy(y: np.ndarray, plan: RenderPlan) -> np.ndarray:
    """`analysis.band_energy` of the output ``y`` on the plan's grid."""
    return band_energy(y, wavelet=plan.wavelet, level=plan.level, hop=plan.hop,
                       bands_per_octave=plan.bands_per_octave)


def style_energy(tracks: Sequence[tuple[np.ndarray, int]], plan: RenderPlan) -> np.ndarray | None:
    """Band energy of the style tracks on the plan's grid (a learnt style the run did not
    analyse again); None without audio."""
    if not tracks:
        return None
    settings = Settings(wavelet=plan.wavelet, bands_per_octave=plan.bands_per_octave)
    analyses = analyse_styles(tracks, sr=plan.sr, n_channels=plan.n_channels, settings=settings,
                              level=plan.level, hop=plan.hop)
    return concatenate(analyses).energy


def style_frames(plan: RenderPlan, tracks: Sequence[tuple[np.ndarray, int]]) -> int | None:
    """How many frames the style tracks have at the plan's rate: where a transposing
    mosaic's copies begin (None when it has none)."""
    if plan.mode != "mosaic" or not int(plan.settings.get("transpose", 0) or 0):
        return None
    return sum(-(-audio.resample(y, sr, plan.sr).shape[1] // plan.hop) for y, sr in tracks)


def run_measures(content: np.ndarray, tracks: Sequence[tuple[np.ndarray, int]], output: np.ndarray,
              sr: int) -> dict[str, float]:
    """The `evaluate` measures of ``output``; the style tracks, at ``sr``, played one after
    another are the style."""
    from .evaluate import evaluate

    style = np.concatenate([audio.to_channels(audio.resample(y, y_sr, sr), content.shape[0])
                            for y, y_sr in tracks], axis=1)
    return evaluate(content, style, output, sr)
