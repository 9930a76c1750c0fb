"""The ``synth`` job: from style files on disk to a written synthesis, checking everything
first, rendering and writing in chunks so that memory does not grow with the length.

Examples
--------
>>> synth_files(["rain.wav"], "rain-10min.wav", seconds=600)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import audio
from .errors import ParameterError
from .files import (
    _check_sc_grid,
    _check_side_path,
    _indexed_audio,
    _load_styles,
    check_engine,
)
from .plan import RenderPlan
from .presets import load_preset
from .segments import is_corpus
from .settings import Settings
from .synth import PlanChunk, StyleIndex, Synthesiser, check_seconds, chunk_plan, prepare
from .synth_render import CHUNK_FRAMES, render_synth, stream_synth, write_synth
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
                stage: Stage | None = None, quiet: bool = True) -> SynthResult:
    """Synthesise ``seconds`` in the style of ``styles`` (audio files or one learnt
    ``.npz`` that holds its audio) into ``output``.

    Settings merge as defaults < ``preset`` (a synthesis preset) < a learnt model's <
    ``options`` / ``synth_options`` (field name -> value; None is ignored). The seed
    (``options["seed"]``) seeds the walk: the same seed gives the same file.
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
    audio.check_output_format(out, n_channels=n_channels, sr=sr)
    if engine == "sc":
        _check_sc_grid(settings, sr, n_channels)
    n_samples = check_seconds(seconds, sr)
    names = [str(p) for p in styles] if model is None else [str(styles[0])] * len(tracks)
    _step(stage, "learning style")
    index = prepare(tracks, sr=sr, n_channels=n_channels, settings=settings,
                    synth_settings=synth_settings, model=model, names=names)
    exponent = audio.working_exponent(np.concatenate([y.ravel() for y, _ in tracks]))
    walker = Synthesiser(index, synth_settings, seed=settings.seed)
    records = {**settings.as_dict(), "synth": synth_settings.as_dict()}
    sources = {"content": None, "styles": [str(p) for p in styles]}
    _step(stage, "synthesising")
    targets = [out] if plan_path is None else [out, plan_path]
    plan = None
    if engine == "sc":
        plan = walker.plan(n_samples, sources=sources, settings=records)
        whole = plan
        chunks = iter([render_synth(plan, index, engine="sc")])
        gain = _write(targets, chunks, sr, n_channels, subtype, force, exponent,
                      lambda: whole)
    else:
        kept: list[PlanChunk] = []

        def frames(n: int) -> PlanChunk:
            chunk = walker.next_frames(n)
            if plan_path is not None:
                kept.append(chunk)
            return chunk

        bar = _bar(-(-n_samples // index.style.hop), enabled=not quiet)
        with bar:
            chunks = stream_synth(frames, index, n_samples, chunk_frames=CHUNK_FRAMES,
                                  progress=bar.update)
            gain = _write(targets, chunks, sr, n_channels, subtype, force, exponent,
                          lambda: _joined(index, kept, n_samples, sources, records))
        if plan_path is not None:
            plan = _joined(index, kept, n_samples, sources, records)
    return SynthResult(output=out, seconds=n_samples / sr, settings=settings,
                       synth_settings=synth_settings, gain=gain, plan=plan)


def _write(targets: list[Path], chunks: Any, sr: int, n_channels: int, subtype: str,
           force: bool, exponent: int, plan: Callable[[], RenderPlan] | None) -> float:
    """Write the audio and, with a second target, the plan: both in place, or neither."""
    also = None
    if len(targets) > 1 and plan is not None:
        also = (targets[1], lambda temp: plan().save(temp))
    return write_synth(targets[0], chunks, sr, n_channels=n_channels, subtype=subtype,
                       force=force, exponent=exponent, also=also)


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
