"""The ``synth`` job: from style files on disk to a written synthesis, checking everything
first, rendering and writing in chunks so that memory does not grow with the length.

Examples
--------
>>> synth_files(["rain.wav"], "rain-10min.wav", seconds=600)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import audio
from .analysis import Analysis, band_energy
from .errors import ParameterError
from .files import (
    _check_sc_grid,
    _check_side_path,
    _indexed_audio,
    _load_styles,
    check_engine,
)
from .model import StyleModel
from .plan import RenderPlan
from .presets import load_preset
from .segments import is_corpus
from .settings import Settings
from .synth import PlanChunk, StyleIndex, Synthesiser, check_seconds, chunk_plan, prepare
from .synth_render import (
    CHUNK_FRAMES,
    Prefetched,
    margin,
    plan_chunks,
    render_synth,
    stream_synth,
    write_synth,
)
from .synth_settings import SynthSettings

#: The analysis settings a synthesis takes from presets and options.
ANALYSIS_FIELDS = ("clusters", "wavelet", "levels", "bands_per_octave", "seed")
#: Called with the name of each stage as it starts.
Stage = Callable[[str], None]
STAGES = ("reading style", "learning style", "synthesising")


@dataclass(frozen=True)
class SynthResult:
    """What `synth_files` wrote.

    Attributes
    ----------
    output : Path
        The audio file.
    seconds : float
        Its length.
    settings, synth_settings : the settings used (defaults, preset, model and options).
    gain : float
        Normalisation gain applied to stay under -1 dBFS (1.0: none).
    plan : RenderPlan or None
        The plan, when it was saved or rendered whole (``--save-plan``, ``--engine sc``).
    """

    output: Path
    seconds: float
    settings: Settings
    synth_settings: SynthSettings
    gain: float
    plan: RenderPlan | None = None


def synth_files(styles: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *,
                seconds: float, preset: str | None = None,
                options: dict[str, Any] | None = None,
                synth_options: dict[str, Any] | None = None, subtype: str = "PCM_24",
                force: bool = False, engine: str = "numpy",
                save_plan: str | os.PathLike[str] | None = None,
                plot: str | os.PathLike[str] | None = None,
                stage: Stage | None = None, quiet: bool = True) -> SynthResult:
    """Synthesise ``seconds`` in the style of ``styles`` (audio files or one learnt
    ``.npz`` that holds its audio) into ``output``.

    Settings merge as defaults < ``preset`` (a synthesis preset) < a learnt model's <
    ``options`` / ``synth_options`` (field name -> value; None is ignored). The seed
    (``options["seed"]``) seeds the walk: the same seed gives the same file. ``plot``
    also draws the synthesis (`plot.write_run_png`, a ``.png``): the output's band energy
    is measured chunk by chunk as it is written, and the plan kept (a few bytes a frame).
    """
    if not styles:
        raise ParameterError("no style given: name STYLE files (audio or a learnt .npz)")
    subtype = audio.normalise_subtype(subtype)
    check_engine(engine, None)
    check_seconds(seconds, 1)
    out = Path(output)
    audio.check_output_path(out, subtype=subtype, inputs=tuple(styles), force=force)
    plan_path = None
    if save_plan is not None:
        plan_path = _check_side_path(save_plan, ".npz", inputs=(*styles, out), force=force)
        if plan_path == out.resolve():
            raise ParameterError(f"{save_plan}: plan path equals the output path: choose another")
    picture = None
    if plot is not None:
        from .plot import check_png_target

        picture = check_png_target(plot, inputs=(*styles, out), force=force)
    style = read_synth_style(styles, preset=preset, options=options,
                             synth_options=synth_options, stage=stage)
    settings, synth_settings, tracks = style.settings, style.synth_settings, style.tracks
    sr, n_channels = style.sr, style.n_channels
    audio.check_output_format(out, n_channels=n_channels, sr=sr)
    if engine == "sc":
        _check_sc_grid(settings, sr, n_channels)
    n_samples = check_seconds(seconds, sr)
    _step(stage, "learning style")
    index = style.index()
    exponent = audio.working_exponent(np.concatenate([y.ravel() for y, _ in tracks]))
    walker = Synthesiser(index, synth_settings, seed=settings.seed)
    records = {**settings.as_dict(), "synth": synth_settings.as_dict()}
    sources = {"content": None, "styles": [str(p) for p in styles]}
    _step(stage, "synthesising")
    energies: list[np.ndarray] = []
    plan: RenderPlan | None = None
    if engine == "sc":
        plan = walker.plan(n_samples, sources=sources, settings=records)
        whole = plan
        chunks = _measured(iter([render_synth(plan, index, engine="sc")]), index,
                           energies if picture else None)
        gain = _write(out, chunks, sr, n_channels, subtype, force, exponent,
                      _sides(plan_path, picture, lambda: whole, index, energies))
    else:
        kept: list[PlanChunk] = []
        walk = Prefetched(walker.next_frames, -(-n_samples // index.style.hop))

        def frames(n: int) -> PlanChunk:
            chunk = walk(n)
            if plan_path is not None or picture is not None:
                kept.append(chunk)
            return chunk

        @functools.cache
        def joined() -> RenderPlan:  # once the audio is complete
            return _joined(index, kept, n_samples, sources, records)

        bar = _bar(-(-n_samples // index.style.hop), enabled=not quiet)
        with bar, walk:
            chunks = _measured(stream_synth(frames, index, n_samples, chunk_frames=CHUNK_FRAMES,
                                            progress=bar.update), index,
                               energies if picture else None)
            gain = _write(out, chunks, sr, n_channels, subtype, force, exponent,
                          _sides(plan_path, picture, joined, index, energies))
        plan = joined() if plan_path else None
    return SynthResult(output=out, seconds=n_samples / sr, settings=settings,
                       synth_settings=synth_settings, gain=gain, plan=plan)


def render_synth_plan_file(plan_path: str | os.PathLike[str], plan: RenderPlan, out: Path, *,
                           styles: Sequence[str | os.PathLike[str]] | None, engine: str,
                           subtype: str, force: bool,
                           keep_score: str | os.PathLike[str] | None) -> float:
    """Render a synthesis plan saved with ``synth --save-plan`` into ``out`` (checked by the
    caller), from its style files or ``styles``: the audio ``synth`` wrote. Returns the
    normalisation gain.

    Examples
    --------
    >>> plan = RenderPlan.load("rain.plan.npz")  # doctest: +SKIP
    >>> render_synth_plan_file("rain.plan.npz", plan, Path("again.wav"), styles=None,
    ...                        engine="numpy", subtype="PCM_24", force=False,
    ...                        keep_score=None)  # doctest: +SKIP
    1.0
    """
    style, exponent = synth_plan_style(plan_path, plan, styles, output=out)
    chunks = plan_chunks(plan, style, engine=engine, keep_score=keep_score)
    return write_synth(out, chunks, plan.sr, n_channels=plan.n_channels, subtype=subtype,
                       force=force, exponent=exponent)


def synth_plan_style(plan_path: str | os.PathLike[str], plan: RenderPlan,
                     styles: Sequence[str | os.PathLike[str]] | None, *,
                     output: Path | None = None) -> tuple[Analysis, int]:
    """The style a saved synthesis plan plays (its files, or ``styles``), analysed on its
    grid, and the working exponent its audio was made with; ``output``: a file whose format
    must hold it."""
    from .files import _plan_styles

    paths = list(styles) if styles else list(plan.sources.get("styles") or [])
    if not paths:
        raise ParameterError(f"{plan_path}: the synthesis plan names no style files: "
                             "give --style")
    style, tracks, _ = _plan_styles(plan, paths)
    if style is None:
        raise ParameterError(f"{paths[0]}: holds no audio to synthesise from: give the "
                             "style's audio files with --style")
    if style.n_frames <= int(plan.segments.max()):
        raise ParameterError(f"{paths[0]}: is not the style of this plan (it has "
                             f"{style.n_frames} frames, the plan plays frame "
                             f"{int(plan.segments.max())}): give the right --style")
    if output is not None:
        audio.check_output_format(output, n_channels=plan.n_channels, sr=plan.sr)
    return style, audio.working_exponent(np.concatenate([y.ravel() for y, _ in tracks]))


@dataclass(frozen=True)
class SynthStyle:
    """A style read for a synthesis, with the settings it is synthesised with.

    Attributes
    ----------
    tracks : list of (np.ndarray, int)
        The style's audio, with its rates.
    model : StyleModel or None
        Its learnt model (None: learnt by `index`).
    settings, synth_settings : the settings (defaults, preset, model and options).
    names : list of str
        A name per track, for messages.
    sr, n_channels : int
        The synthesis's rate and channels (the model's rate, the first track's channels).
    """

    tracks: list[tuple[np.ndarray, int]]
    model: StyleModel | None
    settings: Settings
    synth_settings: SynthSettings
    names: list[str]
    sr: int
    n_channels: int

    def index(self, *, sr: int | None = None, n_channels: int | None = None) -> StyleIndex:
        """The style analysed and indexed for the walk (at ``sr`` and ``n_channels``, by
        default its own)."""
        return prepare(self.tracks, sr=sr or self.sr, n_channels=n_channels or self.n_channels,
                       settings=self.settings, synth_settings=self.synth_settings,
                       model=self.model, names=self.names)


def read_synth_style(styles: Sequence[str | os.PathLike[str]], *, preset: str | None = None,
                     options: dict[str, Any] | None = None,
                     synth_options: dict[str, Any] | None = None,
                     stage: Stage | None = None) -> SynthStyle:
    """Read a style to synthesise from (audio files or one learnt ``.npz`` that holds its
    audio) and merge its settings: defaults < ``preset`` (a synthesis preset) < a learnt
    model's < ``options`` / ``synth_options``.

    Examples
    --------
    >>> read_synth_style(["rain.wav"], preset="texture").sr  # doctest: +SKIP
    44100
    """
    if not styles:
        raise ParameterError("no style given: name STYLE files (audio or a learnt .npz)")
    chosen = load_preset(preset).check_kind(synthesis=True) if preset else None
    settings = chosen.settings if chosen else Settings()
    analysis = {k: v for k, v in (options or {}).items() if k in ANALYSIS_FIELDS}
    settings = settings.updated(analysis).checked()
    synth_settings = (chosen.synth_settings if chosen else SynthSettings()).updated(
        synth_options or {}).checked()
    _step(stage, "reading style")
    model, tracks = _load_styles(styles)
    if model is not None:
        if not tracks and is_corpus(model):  # an index of files: their audio, read back
            tracks = _indexed_audio(model, str(styles[0]))
        if not tracks:
            raise ParameterError(f"{styles[0]}: holds no audio (learnt with --no-audio): "
                                 "learn it again without --no-audio, or give the audio files")
        learnt = {"clusters": model.n_states, "wavelet": model.wavelet_,
                  "bands_per_octave": model.bands_per_octave_, "levels": model.level_}
        seed = settings.seed
        settings = settings.updated(learnt).updated(
            {k: v for k, v in analysis.items() if k != "seed"}).checked()
        if settings.clusters != model.n_states:
            model = None  # other states were asked for: learn again from the stored audio
        settings = settings.updated({"seed": seed})
    sr = int(model.sr_ if model is not None else tracks[0][1])
    n_channels = int(tracks[0][0].shape[0])
    names = [str(p) for p in styles] if model is None else [str(styles[0])] * len(tracks)
    return SynthStyle(tracks=tracks, model=model, settings=settings,
                      synth_settings=synth_settings, names=names, sr=sr, n_channels=n_channels)


def _write(out: Path, chunks: Any, sr: int, n_channels: int, subtype: str, force: bool,
           exponent: int, sides: list[tuple[Path, Callable[[Path], None]]]) -> float:
    """Write the audio and its side files (`_sides`): all in place, or none."""
    return write_synth(out, chunks, sr, n_channels=n_channels, subtype=subtype, force=force,
                       exponent=exponent, also=sides)


def _sides(plan_path: Path | None, picture: Path | None, plan: Callable[[], RenderPlan],
           index: StyleIndex, energies: list[np.ndarray],
           ) -> list[tuple[Path, Callable[[Path], None]]]:
    """The writers of the plan and of the picture, called once the audio is complete."""
    sides: list[tuple[Path, Callable[[Path], None]]] = []
    if plan_path is not None:
        sides.append((plan_path, lambda temp: plan().save(temp)))
    if picture is not None:
        def draw(temp: Path) -> None:
            from .plot import write_run_png

            write_run_png(temp, plan(), None, np.concatenate(energies), index.style.energy)

        sides.append((picture, draw))
    return sides


def _measured(chunks: Iterator[np.ndarray], index: StyleIndex,
              energies: list[np.ndarray] | None) -> Iterator[np.ndarray]:
    """``chunks`` as they come; with ``energies``, the band energy of each (on the style's
    grid, as `band_energy` of the whole output would give it) is appended to it, measured
    with the neighbouring chunks' edges (`margin` frames) once the next chunk is in."""
    style = index.style
    reach = margin(style) * style.hop
    before = previous = None
    for chunk in chunks:
        if energies is not None and previous is not None:
            energies.append(_middle_energy(before, previous, chunk[:, :reach], style))
            before = np.concatenate([before, previous], axis=1)[:, -reach:]
        elif energies is not None:
            before = chunk[:, :0]
        previous = chunk
        yield chunk
    if energies is not None and previous is not None:
        energies.append(_middle_energy(before, previous, previous[:, :0], style))


def _middle_energy(before: np.ndarray | None, middle: np.ndarray, after: np.ndarray,
                   style: Analysis) -> np.ndarray:
    """`band_energy` of the frames of ``middle``, measured between ``before`` (whole
    frames) and ``after``."""
    lead = 0 if before is None else before.shape[1]
    parts = [part for part in (before, middle, after) if part is not None]
    energy = band_energy(np.concatenate(parts, axis=1), wavelet=style.wavelet,
                         level=style.level, hop=style.hop,
                         bands_per_octave=style.bands_per_octave)
    first = lead // style.hop
    return energy[first: first - (-middle.shape[1] // style.hop)]


def _joined(index: StyleIndex, chunks: list[PlanChunk], n_samples: int,
            sources: dict[str, Any], records: dict[str, Any]) -> RenderPlan:
    whole = PlanChunk(start=0, segments=np.concatenate([c.segments for c in chunks]),
                      gains=np.concatenate([c.gains for c in chunks]),
                      states=np.concatenate([c.states for c in chunks]))
    frames = -(-n_samples // index.style.hop)
    whole = PlanChunk(0, whole.segments[:frames], whole.gains[:frames], whole.states[:frames])
    return chunk_plan(index, whole, n_samples=n_samples, sources=sources, settings=records)


def _bar(total: int, *, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, file=sys.stderr, disable=not (enabled and sys.stderr.isatty()),
                delay=1.0, leave=False, unit="frame", dynamic_ncols=True,
                desc="synthesising")


def _step(stage: Stage | None, name: str) -> None:
    if stage is not None:
        stage(name)
