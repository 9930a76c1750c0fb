"""File-level jobs: from paths on disk to a written result, checking everything first.

Every check that can fail on bad input runs before any work, and results are written
atomically, so a failed job leaves no partial file and never touches its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import audio
from .analysis import Analysis, analyse
from .atomic import atomic_target, atomic_targets, check_target
from .errors import ParameterError
from .model import StyleModel
from .plan import RenderPlan
from .presets import load_preset
from .settings import Settings
from .transfer import (
    ENGINES,
    Progress,
    analyse_styles,
    analysis_grid,
    concatenate,
    learn,
    mosaic_sources,
    plan_transfer,
    render_plan,
    transfer,
)

MODEL_SUFFIX = ".npz"


@dataclass(frozen=True)
class RunResult:
    """What `transfer_files` wrote.

    Attributes
    ----------
    output : Path
        The audio file.
    plan : RenderPlan
        The rendered plan.
    settings : Settings
        The settings used (defaults, preset, learnt model and options merged).
    gain : float
        Normalisation gain applied to stay under -1 dBFS (1.0: none).
    """

    output: Path
    plan: RenderPlan
    settings: Settings
    gain: float


def default_output(content: str | os.PathLike[str]) -> Path:
    """``NAME.styled.wav`` next to the content.

    Examples
    --------
    >>> default_output("music/song.flac")
    PosixPath('music/song.styled.wav')
    """
    path = Path(content)
    return path.with_name(path.stem + ".styled.wav")


def transfer_files(content: str | os.PathLike[str], styles: Sequence[str | os.PathLike[str]],
                   output: str | os.PathLike[str] | None = None, *,
                   preset: str | None = None, options: dict[str, Any] | None = None,
                   subtype: str = "PCM_24", force: bool = False,
                   save_plan: str | os.PathLike[str] | None = None,
                   progress: Progress | None = None, engine: str = "numpy",
                   keep_score: str | os.PathLike[str] | None = None) -> RunResult:
    """Style ``content`` after ``styles`` (audio files or one learnt ``.npz``) into ``output``.

    Settings are merged in this order, later winning: defaults, ``preset``, the settings a
    learnt style was made with, then ``options`` (field name -> value; None is ignored).
    ``engine`` renders (``numpy`` or ``sc``); ``keep_score`` keeps the ``sc`` score.

    Examples
    --------
    >>> transfer_files("a.wav", ["b.wav"], "a.styled.wav", preset="mosaic")  # doctest: +SKIP
    """
    if not styles:
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    subtype = audio.normalise_subtype(subtype)
    check_engine(engine, keep_score)
    out = Path(output) if output is not None else default_output(content)
    inputs = (content, *styles)
    audio.check_output_path(out, subtype=subtype, inputs=inputs, force=force)
    plan_path = None
    if save_plan is not None:
        plan_path = _check_side_path(save_plan, ".npz", inputs=(*inputs, out), force=force)
        if plan_path == out.resolve():
            raise ParameterError(f"{save_plan}: plan path equals the output path: choose another")
    y, sr, settings, model, style_audio = _read_inputs(content, styles, preset, options)
    audio.check_output_format(out, n_channels=y.shape[0], sr=sr)
    if engine == "sc":
        _check_sc_grid(settings, sr, y.shape[0])
    result, plan = transfer(y, sr, style_audio, settings=settings, model=model,
                            progress=progress, engine=engine, keep_score=keep_score,
                            sources={"content": str(content), "styles": [str(s) for s in styles]})
    targets = [out] if plan_path is None else [out, plan_path]
    with atomic_targets(targets, force=force) as temps:  # both files, or neither
        gain = audio.write_file(temps[0], result, sr, subtype=subtype, container=out.suffix)
        if plan_path is not None:
            plan.save(temps[1])
    return RunResult(output=out, plan=plan, settings=settings, gain=gain)


def plan_files(content: str | os.PathLike[str], styles: Sequence[str | os.PathLike[str]], *,
               preset: str | None = None, options: dict[str, Any] | None = None,
               ) -> tuple[RenderPlan, Analysis, Analysis | None]:
    """The plan for styling ``content`` after ``styles``, and the analyses it plays from.

    Settings merge as in `transfer_files`; for engines that play the plan themselves.

    Examples
    --------
    >>> plan, content, style = plan_files("a.wav", ["b.wav"], preset="mosaic")  # doctest: +SKIP
    """
    if not styles:
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    y, sr, settings, model, style_audio = _read_inputs(content, styles, preset, options)
    _check_sc_grid(settings, sr, y.shape[0])
    return plan_transfer(y, sr, style_audio, settings=settings, model=model,
                         sources={"content": str(content), "styles": [str(s) for s in styles]})


def render_plan_file(plan_path: str | os.PathLike[str], output: str | os.PathLike[str], *,
                     engine: str = "numpy", subtype: str = "PCM_24", force: bool = False,
                     keep_score: str | os.PathLike[str] | None = None,
                     content: str | os.PathLike[str] | None = None,
                     styles: Sequence[str | os.PathLike[str]] | None = None) -> RunResult:
    """Render a plan saved with ``run --save-plan`` into ``output``.

    The audio the plan needs is read again from the files it names (or from ``content``
    and ``styles`` when given, e.g. after moving them) and analysed on the plan's grid.

    Examples
    --------
    >>> render_plan_file("song.plan.npz", "song.sc.wav", engine="sc")  # doctest: +SKIP
    """
    subtype = audio.normalise_subtype(subtype)
    check_engine(engine, keep_score)
    plan = RenderPlan.load(plan_path)
    if engine == "sc":
        from .supercollider.score import check_plan

        check_plan(plan)
    content_path = content if content is not None else plan.sources.get("content")
    style_paths = list(styles) if styles else list(plan.sources.get("styles") or [])
    if not content_path:
        raise ParameterError(f"{plan_path}: the plan names no content file: give --content")
    needed = [content_path, *(style_paths if plan.mode == "mosaic" else [])]
    if plan.mode == "mosaic" and not style_paths:
        raise ParameterError(f"{plan_path}: the mosaic plan names no style files: give --style")
    out = Path(output)
    audio.check_output_path(out, subtype=subtype, inputs=(plan_path, *needed), force=force)
    settings = Settings(wavelet=plan.wavelet, levels=plan.level,
                        bands_per_octave=plan.bands_per_octave)
    y, sr = audio.load(content_path)
    audio.check_output_format(out, n_channels=y.shape[0], sr=sr)
    if sr != plan.sr or y.shape != (plan.n_channels, plan.n_samples):
        raise ParameterError(f"{content_path}: is not the content of this plan ({y.shape[0]} "
                             f"channels, {y.shape[1]} samples at {sr} Hz; the plan wants "
                             f"{plan.n_channels}, {plan.n_samples} at {plan.sr} Hz): give the "
                             "right file with --content")
    exponent = audio.working_exponent(y)
    content_analysis = analyse(np.ldexp(y, exponent), sr, wavelet=plan.wavelet, level=plan.level,
                               hop=plan.hop, bands_per_octave=plan.bands_per_octave,
                               name=str(content_path))
    style_analysis = None
    if plan.mode == "mosaic":
        _, tracks = _load_styles(style_paths)
        analyses = analyse_styles(tracks, sr=sr, n_channels=plan.n_channels,
                                  settings=settings, level=plan.level, hop=plan.hop,
                                  names=[str(p) for p in style_paths])
        transpose = int(plan.settings.get("transpose", 0) or 0)
        style_analysis = concatenate(mosaic_sources(analyses, transpose))
    result = render_plan(plan, content_analysis, style_analysis, engine=engine,
                         keep_score=keep_score)
    result = np.ldexp(result, -exponent)
    gain = audio.write(out, result, sr, subtype=subtype, force=force)
    return RunResult(output=out, plan=plan, settings=settings, gain=gain)


def check_engine(engine: str, keep_score: str | os.PathLike[str] | None) -> None:
    """Raise `ParameterError` before any work if ``engine`` cannot run here.

    Examples
    --------
    >>> check_engine("numpy", None)
    >>> check_engine("csound", None)
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: engine 'csound' is unknown: use one of ('numpy', 'sc')
    """
    if engine not in ENGINES:
        raise ParameterError(f"engine {engine!r} is unknown: use one of {ENGINES}")
    if keep_score is not None:
        if engine != "sc":
            raise ParameterError("--keep-score needs --engine sc: the numpy engine has no score")
        folder = Path(keep_score)
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{folder}: --keep-score needs a folder, not a file")
    if engine == "sc":
        from .supercollider.nrt import find_scsynth

        find_scsynth()


def learn_files(styles: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *,
                options: dict[str, Any] | None = None, sr: int | None = None,
                keep_audio: bool = True, force: bool = False) -> StyleModel:
    """Learn a style from audio files and save it as ``.npz`` (see `StyleModel.save`).

    Examples
    --------
    >>> learn_files(["a.wav", "b.flac"], "mystyle.npz")  # doctest: +SKIP
    """
    if not styles:
        raise ParameterError("no style files given: name at least one audio file")
    target = _check_side_path(output, MODEL_SUFFIX, inputs=tuple(styles), force=force)
    settings = Settings().updated(options or {}).checked()
    if sr is not None:
        audio.check_rate(sr, name="--sr")
    for path in styles:
        if str(path).lower().endswith(MODEL_SUFFIX):
            raise ParameterError(f"{path}: is a learnt model, not audio: learn from audio files")
    tracks = [audio.load(path) for path in styles]
    rate = sr or tracks[0][1]
    n_channels = tracks[0][0].shape[0]
    model = learn(tracks, sr=rate, n_channels=n_channels, settings=settings,
                  names=[str(path) for path in styles])
    kept = ([audio.to_channels(audio.resample(y, y_sr, rate), n_channels) for y, y_sr in tracks]
            if keep_audio else None)
    with atomic_target(target, force=force) as tmp:
        model.save(tmp, audio=kept)
    return model


def _read_inputs(content: str | os.PathLike[str], styles: Sequence[str | os.PathLike[str]],
                 preset: str | None, options: dict[str, Any] | None,
                 ) -> tuple[np.ndarray, int, Settings, StyleModel | None,
                            list[tuple[np.ndarray, int]]]:
    """Content audio, merged settings, a learnt model (or None) and the style audio.

    Settings merge as defaults < ``preset`` < the learnt model's < ``options``; a model
    asked for other clusters or seed is dropped, to be learnt again from its audio.
    """
    settings = load_preset(preset).settings if preset else Settings()
    settings = settings.updated(options or {}).checked()
    y, sr = audio.load(content)
    model, style_audio = _load_styles(styles)
    if model is not None:
        learnt = {"clusters": model.n_states, "seed": model.seed, "wavelet": model.wavelet_,
                  "bands_per_octave": model.bands_per_octave_}
        if model.sr_ == sr:
            learnt["levels"] = model.level_
        settings = settings.updated(learnt).updated(options or {}).checked()
        if (settings.clusters, settings.seed) != (model.n_states, model.seed):
            model = None  # other states were asked for: learn again from the stored audio
            if not style_audio:
                raise ParameterError(f"{styles[0]}: holds no audio to learn other --clusters "
                                     "or --seed from: learn it again from audio")
    return y, sr, settings, model, style_audio


def _check_sc_grid(settings: Settings, sr: int, n_channels: int) -> None:
    """Refuse, before any analysis, what the SuperCollider engine cannot render."""
    from .supercollider.score import check_grid

    level, hop = analysis_grid(settings, sr)
    check_grid(level=level, hop=hop, bands_per_octave=settings.bands_per_octave,
               n_channels=n_channels)


def _load_styles(styles: Sequence[str | os.PathLike[str]],
                 ) -> tuple[StyleModel | None, list[tuple[np.ndarray, int]]]:
    models = [s for s in styles if str(s).lower().endswith(MODEL_SUFFIX)]
    if models and len(styles) > 1:
        raise ParameterError("give either one learnt .npz style or audio files, not both")
    if models:
        model, tracks = StyleModel.load(models[0])
        return model, [(track, model.sr_) for track in tracks]
    return None, [audio.load(path) for path in styles]


def _check_side_path(path: str | os.PathLike[str], suffix: str, *,
                     inputs: tuple[str | os.PathLike[str], ...], force: bool) -> Path:
    target = Path(path)
    if target.suffix.lower() != suffix:
        raise ParameterError(f"{target}: must end in {suffix}")
    return check_target(target, inputs=inputs, force=force).resolve()
