"""Offline rendering: a plan's score rendered by ``scsynth -N`` (non-real-time mode).

The score (`PlanScore.nrt_bundles`), the audio and the frame table it reads are
written to a folder, scsynth renders them to a file, and the result is trimmed by the
score's delay to the plan's length.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from ..analysis import Analysis
from ..errors import EngineError, ParameterError
from ..plan import RenderPlan
from . import osc
from .process import find_executable
from .score import SC_CHANNELS, PlanScore, check_plan, write_stereo, write_table


def find_scsynth() -> str:
    """The scsynth executable, or a `ParameterError` saying how to get one."""
    return find_executable("scsynth", otherwise=" or use --engine numpy")


def render_nrt(plan: RenderPlan, content: Analysis | None = None,
               style: Analysis | None = None, *, scsynth: str | None = None,
               keep_score: str | os.PathLike[str] | None = None) -> np.ndarray:
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
    if content is None and not (plan.mode == "mosaic" and plan.envelope == 0.0):
        raise ParameterError(f"a {plan.mode} plan needs the content's analysis to render")
    source = content if content is not None else style
    if source is None:
        raise ParameterError("a mosaic plan needs the style's analysis to render")
    signal = (content.signal if content is not None  # a synthesis: the guide is silent
              else np.zeros((plan.n_channels, 1), dtype=source.signal.dtype))

    def write_content(path: Path, score: PlanScore) -> None:
        write_stereo(path, score.content_signal(signal), plan.sr)

    with nrt_output(plan, write_content, style, scsynth=scsynth,
                    keep_score=keep_score) as (out_path, start):
        rendered, rate = sf.read(out_path, dtype="float32", always_2d=True)
    if rate != plan.sr or rendered.shape[0] < start + plan.n_samples:
        raise EngineError(f"scsynth rendered {rendered.shape[0]} samples at {rate} Hz, "
                          f"expected {start + plan.n_samples} at {plan.sr} Hz")
    out = rendered[start: start + plan.n_samples, : plan.n_channels].T
    return np.ascontiguousarray(out, dtype=signal.dtype)


#: Writes the content buffer's file (at the path given) as `PlanScore.content_signal` says.
ContentWriter = Callable[[Path, PlanScore], None]


@contextmanager
def nrt_output(plan: RenderPlan, write_content: ContentWriter, style: Analysis | None, *,
               scsynth: str | None = None,
               keep_score: str | os.PathLike[str] | None = None) -> Iterator[tuple[Path, int]]:
    """Render ``plan`` with ``scsynth -N`` and yield the rendered file (float WAV, the
    server's channels) and the sample where the result starts in it; the file lives
    until the block ends (or is kept, with ``keep_score``).

    ``write_content`` writes the content buffer's file, so a long content can be copied
    into it block by block. Raises `EngineError` when scsynth fails or is stopped.
    """
    check_plan(plan)
    executable = scsynth or find_scsynth()
    if plan.mode == "mosaic" and style is None:
        raise ParameterError("a mosaic plan needs the style's analysis to render")
    score = PlanScore(plan)
    if keep_score is not None:
        folder = Path(keep_score)
        if folder.exists() and not folder.is_dir():
            raise ParameterError(f"{folder}: --keep-score needs a folder, not a file")
        folder.mkdir(parents=True, exist_ok=True)
        yield _render_in(score, write_content, style, folder.resolve(), executable,
                         keep=True), score.delay_samples
        return
    with tempfile.TemporaryDirectory(prefix="st-nrt-") as work:
        yield _render_in(score, write_content, style, Path(work), executable,
                         keep=False), score.delay_samples


def _render_in(score: PlanScore, write_content: ContentWriter, style: Analysis | None,
               folder: Path, executable: str, *, keep: bool) -> Path:
    plan = score.plan
    content_path, table_path = folder / "content.wav", folder / "frames.wav"
    write_content(content_path, score)
    write_table(table_path, score.table(), plan.sr)
    style_path = None
    if plan.mode == "mosaic" and style is not None:
        style_path = folder / "style.wav"
        write_stereo(style_path, style.signal, plan.sr)
    score_path, out_path = folder / "score.osc", folder / "render.wav"
    bundles = score.nrt_bundles(str(content_path), str(style_path) if style_path else None,
                                str(table_path))
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
