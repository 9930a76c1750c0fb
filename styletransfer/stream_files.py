"""Files worked on in blocks: a run or a saved plan's rendering whose content is read,
planned and rendered block by block (`stream`, `stream_render`), so memory does not grow
with its length. `files` checks the paths and the options first, then comes here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import audio
from .analysis import Analysis
from .atomic import atomic_target, atomic_targets
from .files import (
    RunResult,
    _base_settings,
    _check_plan_content,
    _check_sc_grid,
    _corpus_segments,
    _plan_styles,
    _settings_and_styles,
)
from .plan import RenderPlan
from .segments import SegmentAnalysis
from .settings import Settings
from .stream import FileReader, block_frames, check_level, transfer_blocks
from .stream_render import (
    check_room,
    render_nrt_to_file,
    render_to_file,
    scratch_file,
    write_result,
)
from .transfer import Progress, analysis_grid


def transfer_file_blocks(content: str | os.PathLike[str],
                         styles: Sequence[str | os.PathLike[str]], out: Path,
                         plan_path: Path | None, *, preset: str | None,
                         options: dict[str, Any] | None, subtype: str, force: bool,
                         progress: Progress | None, sources: dict[str, object],
                         block_seconds: float | None, engine: str,
                         keep_score: str | os.PathLike[str] | None) -> RunResult:
    """`files.transfer_files` without a picture: the content read, planned and rendered in
    blocks, into ``out`` (and the plan into ``plan_path``), both or neither.

    Examples
    --------
    >>> transfer_file_blocks("long.flac", ["style.wav"], Path("long.styled.wav"), None,
    ...                      preset=None, options=None, subtype="PCM_24", force=False,
    ...                      progress=None, sources={}, block_seconds=10.0,
    ...                      engine="numpy", keep_score=None)  # doctest: +SKIP
    """
    settings = _base_settings(preset, options)
    with FileReader(content) as reader:
        settings, model, style_audio = _settings_and_styles(settings, reader.sr, styles,
                                                            options)
        audio.check_output_format(out, n_channels=reader.n_channels, sr=reader.sr)
        if engine == "sc":
            _check_sc_grid(settings, reader.sr, reader.n_channels)
        blocks = block_frames(reader.sr, analysis_grid(settings, reader.sr)[1], block_seconds)
        targets = [out] if plan_path is None else [out, plan_path]
        with atomic_targets(targets, force=force) as temps:  # both files, or neither
            check_room(out, n_samples=reader.n_samples, n_channels=reader.n_channels,
                       subtype=subtype)
            scratch = scratch_file(out)
            try:
                rendered = transfer_blocks(reader, style_audio, scratch, settings=settings,
                                           model=model, progress=progress, sources=sources,
                                           blocks=blocks, name=str(content), engine=engine,
                                           keep_score=keep_score)
                gain = write_result(rendered, reader, temps[0], subtype=subtype,
                                    container=out.suffix)
            finally:
                scratch.unlink(missing_ok=True)
            if plan_path is not None:
                rendered.plan.save(temps[1])
    return RunResult(output=out, plan=rendered.plan, settings=settings, gain=gain)


def render_plan_blocks(plan: RenderPlan, content_path: str | os.PathLike[str],
                       style_paths: list[str | os.PathLike[str]], out: Path, *,
                       settings: Settings, engine: str, subtype: str, force: bool,
                       keep_score: str | os.PathLike[str] | None,
                       block_seconds: float | None) -> RunResult:
    """`files.render_plan_file` after its checks: the content read and rendered in
    blocks into ``out``.

    Examples
    --------
    >>> plan = RenderPlan.load("song.plan.npz")  # doctest: +SKIP
    >>> render_plan_blocks(plan, "song.wav", [], Path("song.out.wav"), settings=Settings(),
    ...                    engine="numpy", subtype="PCM_24", force=False, keep_score=None,
    ...                    block_seconds=None)  # doctest: +SKIP
    """
    with FileReader(content_path) as reader:
        exponent = check_level(reader, str(content_path))
        audio.check_output_format(out, n_channels=reader.n_channels, sr=reader.sr)
        _check_plan_content(plan, content_path, reader.sr, reader.n_channels,
                            reader.n_samples)
        style_analysis: Analysis | None = None
        played = plan
        if plan.mode == "mosaic":
            style_analysis = _corpus_segments(plan, style_paths)
            if style_analysis is None:
                style_analysis = _plan_styles(plan, style_paths)[0]
            if isinstance(style_analysis, SegmentAnalysis):  # the frames that were read
                played = style_analysis.localise(plan)
        with atomic_target(out, force=force) as temp:
            check_room(out, n_samples=reader.n_samples, n_channels=reader.n_channels,
                       subtype=subtype)
            scratch = scratch_file(out)
            try:
                blocks = block_frames(reader.sr, plan.hop, block_seconds)
                if engine == "sc":
                    rendered = render_nrt_to_file(played, reader, scratch, exponent=exponent,
                                                  blocks=blocks, style=style_analysis,
                                                  keep_score=keep_score)
                else:
                    rendered = render_to_file(played, reader, scratch, exponent=exponent,
                                              blocks=blocks, style=style_analysis)
                gain = write_result(rendered, reader, temp, subtype=subtype,
                                    container=out.suffix)
            finally:
                scratch.unlink(missing_ok=True)
    return RunResult(output=out, plan=plan, settings=settings, gain=gain)
