"""Offline rendering: a plan's score rendered by ``scsynth -N`` (non-real-time mode).

The score (`PlanScore.nrt_bundles`), the audio and the frame table it reads are
written to a folder, scsynth renders them to a file, and the result is trimmed by the
score's delay to the plan's length. `render_set` renders a live set under a timeline of
controls the same way: what a live stream of it played. `nrt_output` leaves the writing
of the content's buffer file and the reading of the result to its caller, so a long
content can be copied in and read back block by block (`stream_render`).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ..analysis import Analysis
from ..errors import EngineError, ParameterError
from ..plan import RenderPlan
from . import osc
from .osc import Bundle
from .process import find_executable
from .score import SC_CHANNELS, PlanScore, check_plan, write_stereo, write_table
from .setscore import SetScore
from .timeline import LiveSet, Timeline


def find_scsynth() -> str:
    """The scsynth executable, or a `ParameterError` saying how to get one."""
    return find_executable("scsynth", otherwise=" or use --engine numpy")


def render_nrt(plan: RenderPlan, content: Analysis | None = None,
               style: Analysis | None = None, *, scsynth: str | None = None,
               keep_score: str | os.PathLike[str] | None = None,
               dc_hz: float = 0.0) -> np.ndarray:
    """Render ``plan`` with ``scsynth -N`` and return ``(plan.n_channels, plan.n_samples)``.

    Parameters
    ----------
    plan : RenderPlan
        What to render (mono or stereo, any bands per octave).
    content, style : Analysis
        The analyses the numpy engine would take; only their ``signal`` is used. A mosaic
        without envelope (a synthesis) needs no content: the envelope's guide is silent.
    scsynth : str, optional
        The scsynth executable (default: found on the PATH).
    keep_score : path, optional
        A folder to keep the score in (``score.osc`` with the audio it reads and
        ``render.sh``, the command that renders it); by default all is temporary.
    dc_hz : float
        Cutoff of the DC filter in the safety stage the score ends in (0: none, as
        offline renders have it; a live run uses
        `styletransfer.supercollider.session.OUTPUT_DC_HZ`).

    Raises
    ------
    EngineError
        scsynth failed or was stopped; nothing is returned.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> y = np.random.default_rng(0).standard_normal((1, 4000)).astype(np.float32) * 0.1
    >>> a = analyse(y, 22050, wavelet="db4", level=4)
    >>> plan = RenderPlan.identity(sr=22050, n_samples=4000, n_channels=1, wavelet="db4",
    ...                            level=4, hop=a.hop)
    >>> render_nrt(plan, a).shape  # doctest: +SKIP
    (1, 4000)
    """
    source = content if content is not None else style  # both None: nrt_output refuses
    dtype = source.signal.dtype if source is not None else np.dtype(np.float32)

    def write_content(path: Path, score: PlanScore) -> None:
        signal = (content.signal if content is not None  # a synthesis: a silent guide
                  else np.zeros((plan.n_channels, 1), dtype=dtype))
        write_stereo(path, score.content_signal(signal), plan.sr)

    with nrt_output(plan, write_content, style, content_given=content is not None,
                    scsynth=scsynth, keep_score=keep_score, dc_hz=dc_hz) as (path, start):
        rendered, rate = sf.read(path, dtype="float32", always_2d=True)
    return _trimmed(rendered, rate, plan, start, dtype)


#: Writes the content buffer's file (at the path given) as `PlanScore.content_signal` says.
ContentWriter = Callable[[Path, PlanScore], None]


@contextmanager
def nrt_output(plan: RenderPlan, write_content: ContentWriter, style: Analysis | None, *,
               content_given: bool = True, scsynth: str | None = None,
               keep_score: str | os.PathLike[str] | None = None,
               dc_hz: float = 0.0) -> Iterator[tuple[Path, int]]:
    """Render ``plan`` with ``scsynth -N`` and yield the rendered file (float WAV, the
    server's channels) and the sample where the result starts in it; the file lives
    until the block ends (or is kept, with ``keep_score``).

    ``write_content`` writes the content buffer's file, so a long content can be copied
    into it block by block; ``content_given`` False says there is no content (a synthesis:
    a mosaic without envelope). Raises `EngineError` when scsynth fails or is stopped.

    Examples
    --------
    >>> def silent(path, score):  # doctest: +SKIP
    ...     write_stereo(path, score.content_signal(np.zeros((1, plan.n_samples))), plan.sr)
    >>> with nrt_output(plan, silent, None) as (path, start):  # doctest: +SKIP
    ...     out = sf.read(path)[0][start: start + plan.n_samples]
    """
    check_plan(plan)
    executable = scsynth or find_scsynth()
    if not content_given and not (plan.mode == "mosaic" and plan.envelope == 0.0):
        raise ParameterError(f"a {plan.mode} plan needs the content's analysis to render")
    if plan.mode == "mosaic" and style is None:
        raise ParameterError("a mosaic plan needs the style's analysis to render")
    score = PlanScore(plan)

    def bundles(content_path: str, style_path: str | None, tables: list[str]) -> list[Bundle]:
        return score.nrt_bundles(content_path, style_path, tables[0], dc_hz=dc_hz)

    job = _Job(plan, score.delay_samples, lambda path: write_content(path, score),
               style.signal if plan.mode == "mosaic" and style is not None else None,
               [score.table()], bundles)
    if keep_score is not None:
        folder = Path(keep_score)
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{folder}: --keep-score needs a folder, not a file")
        folder.mkdir(parents=True, exist_ok=True)
        yield _render_in(job, folder.resolve(), executable, keep=True), job.delay
        return
    with tempfile.TemporaryDirectory(prefix="st-nrt-") as work:
        yield _render_in(job, Path(work), executable, keep=False), job.delay


def render_set(live: LiveSet, timeline: Timeline | None = None, *,
               scsynth: str | None = None, dc_hz: float = 0.0) -> np.ndarray:
    """Render ``live`` offline as a live stream plays it under ``timeline``'s controls.

    The frames follow the audio clock in both, so the result is what a live recording of
    the same controls, at the same frames, holds (a live run reports them:
    `LiveReport.controls`); with ``dc_hz`` the output stage a live run has. Returns
    ``(n_channels, n_samples)``.

    Examples
    --------
    >>> live = LiveSet.single(plan, content, None, recipe)  # doctest: +SKIP
    >>> timeline = Timeline(live)  # doctest: +SKIP
    >>> timeline.add(100, "strength", 0.2)  # doctest: +SKIP
    >>> audio = render_set(live, timeline, dc_hz=OUTPUT_DC_HZ)  # doctest: +SKIP
    """
    plan = live.first
    for row in live.plans:
        check_plan(row[0])
    if live.content is None:
        raise ParameterError("a live set needs the content's analysis to render")
    timeline = timeline or Timeline(live)
    score = SetScore(live)

    def bundles(content_path: str, style_path: str | None, tables: list[str]) -> list[Bundle]:
        return score.nrt_bundles(content_path, style_path, tables, dc_hz=dc_hz)

    content = live.content.signal

    def write_content(path: Path) -> None:
        write_stereo(path, score.chains[0].content_signal(content), plan.sr)

    job = _Job(plan, score.delay_samples, write_content, live.style_signal(),
               [timeline.table(c) for c in range(len(live.plans))], bundles)
    with tempfile.TemporaryDirectory(prefix="st-nrt-") as work:
        path = _render_in(job, Path(work), scsynth or find_scsynth(), keep=False)
        rendered, rate = sf.read(path, dtype="float32", always_2d=True)
    return _trimmed(rendered, rate, plan, job.delay, content.dtype)


@dataclass(frozen=True)
class _Job:
    """What one render writes and reads back."""

    plan: RenderPlan
    delay: int
    write_content: Callable[[Path], None]
    style: np.ndarray | None
    tables: list[np.ndarray]
    bundles: Callable[[str, str | None, list[str]], list[Bundle]]


def _render_in(job: _Job, folder: Path, executable: str, *, keep: bool) -> Path:
    """Write ``job``'s files into ``folder``, render them, and return the rendered file."""
    plan = job.plan
    content_path = folder / "content.wav"
    job.write_content(content_path)
    table_paths = [folder / ("frames.wav" if index == 0 else f"frames{index + 1}.wav")
                   for index in range(len(job.tables))]
    for path, table in zip(table_paths, job.tables, strict=True):
        write_table(path, table, plan.sr)
    style_path = None
    if job.style is not None:
        style_path = folder / "style.wav"
        write_stereo(style_path, job.style, plan.sr)
    score_path, out_path = folder / "score.osc", folder / "render.wav"
    bundles = job.bundles(str(content_path), str(style_path) if style_path else None,
                          [str(path) for path in table_paths])
    score_path.write_bytes(osc.encode_score(bundles))
    command = [executable, "-N", str(score_path), "_", str(out_path), str(plan.sr), "WAV",
               "float", "-o", str(SC_CHANNELS)]
    if keep:
        (folder / "render.sh").write_text("#!/bin/sh\n" + " ".join(command) + "\n")
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          errors="replace", check=False)
    if done.returncode != 0 or not out_path.is_file():
        last = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        how = (f"signal {-done.returncode}" if done.returncode < 0
               else f"exit code {done.returncode}")
        raise EngineError(f"scsynth stopped during the render ({how})"
                          + (f": {last[-1].strip()}" if last else "") + "; nothing was written")
    return out_path


def _trimmed(rendered: np.ndarray, rate: int, plan: RenderPlan, start: int,
             dtype: np.dtype[Any]) -> np.ndarray:
    """The plan's samples of a render read back (``(n_samples, channels)`` from
    ``start``), as ``(n_channels, n_samples)`` in ``dtype``."""
    if rate != plan.sr or rendered.shape[0] < start + plan.n_samples:
        raise EngineError(f"scsynth rendered {rendered.shape[0]} samples at {rate} Hz, "
                          f"expected {start + plan.n_samples} at {plan.sr} Hz")
    out = rendered[start: start + plan.n_samples, : plan.n_channels].T
    return np.ascontiguousarray(out, dtype=dtype)
