"""File-level jobs: from paths on disk to a written result, checking everything first.

Every check that can fail on bad input runs before any work, and results are written
atomically, so a failed job leaves no partial file and never touches its inputs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import audio
from .analysis import Analysis, analyse
from .atomic import atomic_target, atomic_targets, check_target
from .cluster import Runner
from .corpus import FileFeatures, Skipped, learn_corpus
from .errors import ParameterError
from .model import StyleModel
from .plan import RenderPlan
from .presets import load_preset
from .segments import SegmentAnalysis, is_corpus, read_segments
from .settings import Settings, searches_style_frames
from .sources import Grid, verify
from .stream import check_block_seconds
from .styles import analyse_styles, concatenate, matches, mosaic_sources
from .transfer import (
    ENGINES,
    Progress,
    analysis_grid,
    plan_transfer,
    plan_with_recipe,
    render_plan,
)

if TYPE_CHECKING:
    from .supercollider.timeline import LiveSet

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
                   keep_score: str | os.PathLike[str] | None = None,
                   plot: str | os.PathLike[str] | None = None,
                   measure: bool = False, block_seconds: float | None = None) -> RunResult:
    """Style ``content`` after ``styles`` (audio files or one learnt ``.npz``) into ``output``.

    Settings are merged in this order, later winning: defaults, ``preset``, the settings a
    learnt style was made with, then ``options`` (field name -> value; None is ignored).
    ``engine`` renders (``numpy`` or ``sc``); ``keep_score`` keeps the ``sc`` score.
    ``plot`` also draws the run's picture (`plot.run_figure`, a ``.png``) from the run's
    own plan and analyses, with the `evaluate` measures in its title when ``measure``.
    Without a picture, the content is read, planned and rendered in blocks of
    ``block_seconds`` (`stream.BLOCK_SECONDS` by default; `stream_files`), so memory does
    not grow with its length. A run with a picture reads the content whole (the picture is
    drawn from the whole analyses) and refuses ``block_seconds``; both give the same
    plan, and audio equal to rounding.

    Examples
    --------
    >>> transfer_files("a.wav", ["b.wav"], "a.styled.wav", preset="mosaic")  # doctest: +SKIP
    """
    if not styles:
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    subtype = audio.normalise_subtype(subtype)
    check_engine(engine, keep_score)
    check_block_seconds(block_seconds)
    out = Path(output) if output is not None else default_output(content)
    inputs = (content, *styles)
    audio.check_output_path(out, subtype=subtype, inputs=inputs, force=force)
    plan_path = None
    if save_plan is not None:
        plan_path = _check_side_path(save_plan, ".npz", inputs=(*inputs, out), force=force)
        if plan_path == out.resolve():
            raise ParameterError(f"{save_plan}: plan path equals the output path: choose another")
    from . import plot_files

    picture = plot_files.check_picture(plot, measure, inputs=inputs, force=force)
    if picture is not None and block_seconds is not None:
        raise ParameterError(f"--block-seconds {block_seconds:g} with --plot: a run's picture "
                             "is drawn from the whole content and output, so a run with --plot "
                             "reads them whole; leave out --block-seconds or --plot")
    names: dict[str, object] = {"content": str(content), "styles": [str(s) for s in styles]}
    if picture is None:  # a picture draws from the whole analyses
        from .stream_files import transfer_file_blocks

        return transfer_file_blocks(content, styles, out, plan_path, preset=preset,
                                    options=options, subtype=subtype, force=force,
                                    progress=progress, sources=names,
                                    block_seconds=block_seconds, engine=engine,
                                    keep_score=keep_score)
    y, sr, settings, model, style_audio = _read_inputs(content, styles, preset, options)
    audio.check_output_format(out, n_channels=y.shape[0], sr=sr)
    if engine == "sc":
        _check_sc_grid(settings, sr, y.shape[0])
    if measure and not style_audio:
        raise ParameterError(f"{styles[0]}: holds no audio to measure the result against: "
                             "give the style's audio files, or leave out --measure")
    planned = plan_with_recipe(y, sr, style_audio, settings=settings, model=model,
                               progress=progress, sources=names)
    plan, content_analysis, style_analysis = planned.plan, planned.content, planned.style
    if progress is not None:
        progress("rendering")
    exponent = audio.working_exponent(y)
    targets = [out, *([plan_path] if plan_path else []), picture]
    with (atomic_targets(targets, force=force) as temps,  # every file, or none
          ThreadPoolExecutor(max_workers=1) as pool):
        # the audio is rendered, then written, in a second thread (in numpy, PyWavelets and
        # libsndfile, not in Python) while the picture is drawn in this one
        rendered = pool.submit(_render, plan, content_analysis, style_analysis, engine=engine,
                               keep_score=keep_score, exponent=exponent)
        written = pool.submit(lambda: audio.write_file(temps[0], rendered.result(), sr,
                                                       subtype=subtype, container=out.suffix))
        if progress is not None:
            progress("drawing")
        style_energy = (style_analysis.energy if style_analysis is not None
                        else planned.style_energy if planned.style_energy is not None
                        else plot_files.style_energy(style_audio, plan))
        measures = (plot_files.run_measures(y, style_audio, rendered.result()
                                            * written.result(), sr) if measure else None)
        plot_files.draw_run(temps[-1], plan, content_analysis.energy,
                            lambda: plot_files.output_energy(rendered.result(), plan),
                            style_energy, measures=measures,
                            style_frames=plot_files.style_frames(plan, style_audio))
        gain = written.result()
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
    plan, content_analysis, style = plan_transfer(
        y, sr, style_audio, settings=settings, model=model,
        sources={"content": str(content), "styles": [str(s) for s in styles]})
    if isinstance(style, SegmentAnalysis):  # engines play the frames that were read
        plan = style.localise(plan)
    return plan, content_analysis, style


def live_set_files(content: str | os.PathLike[str],
                   styles: Sequence[Sequence[str | os.PathLike[str]]], *,
                   preset: str | None = None, options: dict[str, Any] | None = None,
                   switch_modes: bool = False,
                   before_planning: Callable[[], None] | None = None) -> LiveSet:
    """The `LiveSet` a live stream plays: ``content`` planned after each style of
    ``styles`` (each a list of audio files or one learnt ``.npz``), in the settings' mode
    or, with ``switch_modes``, in both modes (the settings' first), every plan with its
    gains' recipe so that its strength can change while it plays. ``before_planning`` is
    called once every input is read and checked, before the planning (which takes its
    time): to ask the server for its status, say.

    Settings merge as in `transfer_files`, with the first style's learnt settings; a
    learnt style whose clusters or seed differ from them is learnt again from its audio.

    Examples
    --------
    >>> live = live_set_files("a.wav", [["b.wav"], ["c.npz"]], switch_modes=True)  # doctest: +SKIP
    >>> live.modes, live.n_styles  # doctest: +SKIP
    (('timbre', 'mosaic'), 2)
    """
    from .settings import MODES
    from .supercollider.timeline import LiveSet

    if not styles or not all(styles):
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    y, sr, settings, model, first_audio = _read_inputs(content, styles[0], preset, options)
    _check_sc_grid(settings, sr, y.shape[0])
    models: list[StyleModel | None] = [model]
    tracks = [first_audio]
    for group in styles[1:]:
        other, audio_ = _load_styles(group)
        if other is not None and (other.n_states, other.seed) != (settings.clusters,
                                                                   settings.seed):
            if not audio_:
                raise ParameterError(f"{group[0]}: learnt with other --clusters or --seed than "
                                     "the first style and holds no audio to learn again from: "
                                     "learn it again from audio")
            other = None
        models.append(other)
        tracks.append(audio_)
    modes = [settings.mode, *(m for m in MODES if m != settings.mode)] if switch_modes \
        else [settings.mode]
    if any(mode == "mosaic" for mode in modes) and not all(tracks):
        raise ParameterError("a mosaic plays the style's audio: give audio files, or a .npz "
                             "learnt with its audio")
    if before_planning is not None:
        before_planning()
    return LiveSet.plan(y, sr, tracks, settings=settings, modes=modes, models=models)


def render_plan_file(plan_path: str | os.PathLike[str], output: str | os.PathLike[str], *,
                     engine: str = "numpy", subtype: str = "PCM_24", force: bool = False,
                     keep_score: str | os.PathLike[str] | None = None,
                     content: str | os.PathLike[str] | None = None,
                     styles: Sequence[str | os.PathLike[str]] | None = None,
                     block_seconds: float | None = None) -> RunResult:
    """Render a plan saved with ``run --save-plan`` into ``output``.

    The audio the plan needs is read again from the files it names (or from ``content``
    and ``styles`` when given, e.g. after moving them) and analysed on the plan's grid;
    the content is read and rendered in blocks of ``block_seconds``, by either engine (a
    synthesis plan has no content, and refuses ``content`` and ``block_seconds``).

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
    if plan.is_synthesis:
        from .synth_files import render_synth_plan_file

        if content is not None or block_seconds is not None:
            raise ParameterError(f"{plan_path}: a synthesis plan has no content: leave out "
                                 + ("--content" if content is not None else "--block-seconds"))
        out = Path(output)
        audio.check_output_path(out, subtype=subtype, force=force, inputs=(
            plan_path, *(styles or plan.sources.get("styles") or [])))
        gain = render_synth_plan_file(plan_path, plan, out, styles=styles, engine=engine,
                                      subtype=subtype, force=force, keep_score=keep_score)
        return RunResult(output=out, plan=plan, settings=Settings(
            wavelet=plan.wavelet, levels=plan.level, bands_per_octave=plan.bands_per_octave),
            gain=gain)
    content_path, style_paths = _plan_paths(plan_path, plan, content, styles)
    needed = [content_path, *(style_paths if plan.mode == "mosaic" else [])]
    out = Path(output)
    audio.check_output_path(out, subtype=subtype, inputs=(plan_path, *needed), force=force)
    settings = Settings(wavelet=plan.wavelet, levels=plan.level,
                        bands_per_octave=plan.bands_per_octave)
    check_block_seconds(block_seconds)
    from .stream_files import render_plan_blocks

    return render_plan_blocks(plan, content_path, style_paths, out, settings=settings,
                              engine=engine, subtype=subtype, force=force,
                              keep_score=keep_score, block_seconds=block_seconds)


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


#: What `learn_files` keeps of the audio: an index of the files, copies, or nothing.
AUDIO_KEPT = ("index", "embed", "none")


def learn_files(styles: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *,
                options: dict[str, Any] | None = None, sr: int | None = None,
                keep: str = "index", strict: bool = False, force: bool = False,
                runner: Runner | None = None,
                on_files: Callable[[int], None] | None = None,
                on_file: Callable[[FileFeatures | Skipped], None] | None = None,
                on_pass: Callable[[str], None] | None = None,
                ) -> tuple[StyleModel, list[Skipped]]:
    """Learn a style from audio files and folders and save it as ``.npz``.

    Files that cannot be learnt from are skipped (returned) unless ``strict``; see
    `corpus.learn_corpus`. ``keep`` says what the model keeps of the audio (`AUDIO_KEPT`):
    an index of the files, from which a mosaic reads the frames it plays; copies of the
    audio (self-contained, as large as the audio); or nothing (no mosaic, no re-learning).

    Examples
    --------
    >>> learn_files(["a.wav", "corpus/"], "mystyle.npz")  # doctest: +SKIP
    """
    if not styles:
        raise ParameterError("no style files given: name at least one audio file or folder")
    if keep not in AUDIO_KEPT:
        raise ParameterError(f"keep={keep!r} is unknown: use one of {AUDIO_KEPT}")
    target = _check_side_path(output, MODEL_SUFFIX, inputs=tuple(styles), force=force)
    settings = Settings().updated(options or {}).checked()
    model, skipped = learn_corpus(styles, settings=settings, sr=sr, runner=runner,
                                  strict=strict, on_files=on_files, on_file=on_file,
                                  on_pass=on_pass)
    assert model.index_ is not None and model.n_channels_ is not None
    grid = Grid(model.sr_, model.n_channels_, model.wavelet_, model.level_, model.hop_,
                model.bands_per_octave_)
    copies = ([partial(_style_track, entry.path, grid) for entry in model.index_.entries]
              if keep == "embed" else None)
    with atomic_target(target, force=force) as tmp:
        model.save(tmp, audio=copies, index=keep != "none")
    return model, skipped


def _style_track(path: str, grid: Grid) -> np.ndarray:
    """A style file as a model keeps it: at the model's rate and channel count."""
    y, y_sr = audio.load(path)
    return audio.to_channels(audio.resample(y, y_sr, grid.sr), grid.n_channels)


def _read_inputs(content: str | os.PathLike[str], styles: Sequence[str | os.PathLike[str]],
                 preset: str | None, options: dict[str, Any] | None,
                 ) -> tuple[np.ndarray, int, Settings, StyleModel | None,
                            list[tuple[np.ndarray, int]]]:
    """Content audio, merged settings, a learnt model (or None) and the style audio.

    Settings merge as defaults < ``preset`` < the learnt model's < ``options``; a model
    asked for other clusters or seed is dropped, to be learnt again from its audio. A
    model that indexes its files gives their audio only where it is needed (to learn
    again, or to transpose); a mosaic from it reads just the frames it plays.
    """
    settings = _base_settings(preset, options)
    y, sr = audio.load(content)
    settings, model, style_audio = _settings_and_styles(settings, sr, styles, options)
    return y, sr, settings, model, style_audio


def _base_settings(preset: str | None, options: dict[str, Any] | None) -> Settings:
    """Defaults < ``preset`` < ``options``, checked."""
    settings = (load_preset(preset).check_kind(synthesis=False).settings if preset
                else Settings())
    return settings.updated(options or {}).checked()


def _settings_and_styles(settings: Settings, sr: int, styles: Sequence[str | os.PathLike[str]],
                         options: dict[str, Any] | None,
                         ) -> tuple[Settings, StyleModel | None, list[tuple[np.ndarray, int]]]:
    """The style audio and a learnt model (or None), and ``settings`` for a content at
    ``sr`` with the model's own merged in (options still win)."""
    model, style_audio = _load_styles(styles)
    if model is not None:
        learnt = {"clusters": model.n_states, "seed": model.seed, "wavelet": model.wavelet_,
                  "bands_per_octave": model.bands_per_octave_}
        if model.sr_ == sr:
            learnt["levels"] = model.level_
        settings = settings.updated(learnt).updated(options or {}).checked()
        level, hop = analysis_grid(settings, sr)
        other_states = (settings.clusters, settings.seed) != (model.n_states, model.seed)
        usable = not other_states and matches(model, settings, sr=sr, level=level, hop=hop)
        searches = searches_style_frames(settings)
        if not style_audio and is_corpus(model) and not (
                usable and (not searches or not settings.transpose)):
            style_audio = _indexed_audio(model, str(styles[0]))
        if other_states:
            model = None  # other states were asked for: learn again from the stored audio
            if not style_audio:
                raise ParameterError(f"{styles[0]}: holds no audio to learn other --clusters "
                                     "or --seed from: learn it again from audio")
    return settings, model, style_audio


#: The most audio (seconds) read back from an indexed style's files to learn it again in
#: memory; beyond it, learn the corpus again with the settings wanted.
INDEXED_AUDIO_SECONDS = 1800.0


def _indexed_audio(model: StyleModel, source: str) -> list[tuple[np.ndarray, int]]:
    """The audio of an indexed style's files, as a model with copies would hold it."""
    assert model.index_ is not None and model.n_channels_ is not None
    seconds = sum(e.samples / e.rate for e in model.index_.entries)
    if seconds > INDEXED_AUDIO_SECONDS:
        raise ParameterError(f"{source}: these settings need the style's audio in memory "
                             "(to transpose it, or to learn it again at another rate, depth, "
                             f"clusters or seed), and it indexes {seconds / 3600:.1f} h of "
                             "audio: learn it again with the settings you want, or use "
                             "--transpose 0")
    grid = Grid(model.sr_, model.n_channels_, model.wavelet_, model.level_, model.hop_,
                model.bands_per_octave_)
    tracks = []
    for entry in model.index_.entries:
        verify(entry, grid, source=source).close()
        tracks.append((_style_track(entry.path, grid), model.sr_))
    return tracks


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


def _render(plan: RenderPlan, content: Analysis, style: Analysis | None, *, engine: str,
            keep_score: str | os.PathLike[str] | None, exponent: int) -> np.ndarray:
    """``plan`` rendered, scaled back by ``2 ** -exponent`` (`audio.working_exponent`)."""
    return np.ldexp(render_plan(plan, content, style, engine=engine, keep_score=keep_score),
                    -exponent)


def _plan_paths(plan_path: str | os.PathLike[str], plan: RenderPlan,
                content: str | os.PathLike[str] | None,
                styles: Sequence[str | os.PathLike[str]] | None,
                ) -> tuple[str | os.PathLike[str], list[str | os.PathLike[str]]]:
    """The content and style files of a saved plan: as given, or as the plan names them."""
    content_path = content if content is not None else plan.sources.get("content")
    style_paths = list(styles) if styles else list(plan.sources.get("styles") or [])
    if not content_path:
        raise ParameterError(f"{plan_path}: the plan names no content file: give --content")
    if plan.mode == "mosaic" and not style_paths:
        raise ParameterError(f"{plan_path}: the mosaic plan names no style files: give --style")
    return content_path, style_paths


def _plan_content(plan: RenderPlan, path: str | os.PathLike[str], out: Path | None,
                  ) -> tuple[np.ndarray, int, Analysis]:
    """A saved plan's content: the audio, its working exponent and its analysis on the plan's
    grid. ``out``: an output file whose format must hold the content."""
    y, sr = audio.load(path)
    if out is not None:
        audio.check_output_format(out, n_channels=y.shape[0], sr=sr)
    _check_plan_content(plan, path, sr, y.shape[0], y.shape[1])
    exponent = audio.working_exponent(y)
    analysis = analyse(np.ldexp(y, exponent), sr, wavelet=plan.wavelet, level=plan.level,
                       hop=plan.hop, bands_per_octave=plan.bands_per_octave, name=str(path))
    return y, exponent, analysis


def _corpus_segments(plan: RenderPlan, paths: Sequence[str | os.PathLike[str]],
                     ) -> Analysis | None:
    """The frames a saved mosaic plan plays, read back from the files of a corpus style's
    index (None when the style is not such a corpus)."""
    if len(paths) != 1 or not str(paths[0]).lower().endswith(MODEL_SUFFIX):
        return None
    model, tracks = _load_styles(paths)
    if tracks or not is_corpus(model):
        return None
    assert model is not None
    if (model.sr_, model.wavelet_, model.level_, model.hop_, model.bands_per_octave_) != (
            plan.sr, plan.wavelet, plan.level, plan.hop, plan.bands_per_octave):
        raise ParameterError(f"{paths[0]}: is not the style of this plan (it was learnt with "
                             "other settings): give the right --style")
    return read_segments(model, plan.segments, n_channels=plan.n_channels,
                         source=str(paths[0]))


def _check_plan_content(plan: RenderPlan, content_path: str | os.PathLike[str], sr: int,
                        n_channels: int, n_samples: int) -> None:
    if sr != plan.sr or (n_channels, n_samples) != (plan.n_channels, plan.n_samples):
        raise ParameterError(f"{content_path}: is not the content of this plan ({n_channels} "
                             f"channels, {n_samples} samples at {sr} Hz; the plan wants "
                             f"{plan.n_channels}, {plan.n_samples} at {plan.sr} Hz): give the "
                             "right file with --content")


def _plan_styles(plan: RenderPlan, paths: Sequence[str | os.PathLike[str]],
                 ) -> tuple[Analysis | None, list[tuple[np.ndarray, int]], int | None]:
    """A saved plan's style: the analysis its segments index (a mosaic's transposed copies
    included), the tracks, and how many frames the tracks themselves have."""
    if not paths:
        return None, [], None
    _, tracks = _load_styles(paths)
    if not tracks:
        return None, [], None
    settings = Settings(wavelet=plan.wavelet, levels=plan.level,
                        bands_per_octave=plan.bands_per_octave)
    analyses = analyse_styles(tracks, sr=plan.sr, n_channels=plan.n_channels,
                              settings=settings, level=plan.level, hop=plan.hop,
                              names=[str(p) for p in paths])
    transpose = int(plan.settings.get("transpose", 0) or 0) if plan.mode == "mosaic" else 0
    return (concatenate(mosaic_sources(analyses, transpose)), tracks,
            sum(a.n_frames for a in analyses))
