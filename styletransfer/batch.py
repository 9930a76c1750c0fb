"""Many contents styled after one style: side by side, every failure reported, the rest done.

`run_batch` styles each content with `files.transfer_files`, exactly as a single ``run``
would (so each output equals that run's), as one task per content on a `cluster.Runner`:
a local process pool (``--jobs``) or Dask workers. What applies to every content is
checked once, before any work (the style, the settings, the output folder, two contents
that would write one file); what concerns one content (unreadable, too short, its output
already there) fails that content only, with its one-line message, and the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import soundfile as sf

from . import audio
from .cluster import Runner
from .errors import EngineError, InternalError, ParameterError
from .paths import regular_file
from .presets import load_preset
from .settings import Settings

#: Exit code of a content that failed on bad input, and on anything else.
BAD_INPUT, FAILED = 2, 1


@dataclass(frozen=True)
class BatchJob:
    """One content to style: everything a worker needs, as plain values."""

    content: str
    output: str
    styles: tuple[str, ...]
    preset: str | None
    options: tuple[tuple[str, Any], ...]
    subtype: str
    force: bool
    engine: str
    block_seconds: float | None = None


@dataclass(frozen=True)
class BatchResult:
    """What became of one content.

    Attributes
    ----------
    content, output : str
        The content and the output it was to be styled into.
    error : str or None
        The one-line message if it failed.
    code : int
        0, or the exit code its failure would have alone (2 bad input, 1 otherwise).
    seconds : float
        Length of the content (0 if unknown).
    """

    content: str
    output: str
    error: str | None
    code: int
    seconds: float = 0.0


def batch_outputs(contents: Sequence[str | os.PathLike[str]],
                  folder: str | os.PathLike[str] | None) -> list[Path]:
    """``NAME.styled.wav`` for each content: in ``folder``, or next to the content.

    Raises `ParameterError` for a missing folder and for two contents that would write
    the same file.

    Examples
    --------
    >>> [str(p) for p in batch_outputs(["a/x.wav", "b/y.flac"], None)]
    ['a/x.styled.wav', 'b/y.styled.wav']
    """
    from .files import default_output

    if folder is not None:
        where = Path(folder)
        if not where.is_dir():
            raise ParameterError(f"{folder}: with several contents, -o names a folder, and "
                                 "this one does not exist: create it first")
    outputs = [default_output(c) if folder is None else Path(folder) / default_output(c).name
               for c in contents]
    seen: dict[str, str] = {}
    for content, output in zip(contents, outputs, strict=True):
        key = os.path.abspath(output)
        if key in seen:
            raise ParameterError(f"{content} and {seen[key]} would both be styled into "
                                 f"{output}: rename one, or style them separately")
        seen[key] = str(content)
    return outputs


def check_batch(styles: Sequence[str | os.PathLike[str]], *, preset: str | None,
                options: dict[str, Any] | None, subtype: str, engine: str) -> str:
    """Check what every content shares, before any work; returns the sample format."""
    from .files import MODEL_SUFFIX, check_engine

    if not styles:
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    subtype = audio.normalise_subtype(subtype)
    check_engine(engine, None)
    settings = (load_preset(preset).check_kind(synthesis=False).settings if preset
                else Settings())
    settings.updated(options or {}).checked()
    models = [s for s in styles if str(s).lower().endswith(MODEL_SUFFIX)]
    if models and len(styles) > 1:
        raise ParameterError("give either one learnt .npz style or audio files, not both")
    if models:
        from .model import StyleModel

        StyleModel.load(models[0])
    else:
        from .sources import open_audio

        for style in styles:
            open_audio(style).close()
    return subtype


def style_one(job: BatchJob) -> BatchResult:
    """Style one content (in a worker); a failure becomes the result's message."""
    from .files import transfer_files

    seconds = 0.0
    try:
        info = sf.info(str(regular_file(job.content)))
        seconds = info.frames / info.samplerate
    except (ParameterError, RuntimeError):
        pass  # transfer_files says what is wrong with it
    try:
        transfer_files(job.content, job.styles, job.output, preset=job.preset,
                       options=dict(job.options), subtype=job.subtype, force=job.force,
                       engine=job.engine, block_seconds=job.block_seconds)
    except ParameterError as exc:
        return BatchResult(job.content, job.output, _named(job.content, str(exc)), BAD_INPUT,
                           seconds)
    except (EngineError, InternalError) as exc:
        return BatchResult(job.content, job.output, _named(job.content, str(exc)), FAILED,
                           seconds)
    except OSError as exc:
        problem = f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}"
        return BatchResult(job.content, job.output, _named(job.content, problem), FAILED,
                           seconds)
    except MemoryError:
        return BatchResult(job.content, job.output,
                           _named(job.content, "out of memory: style it on its own"), FAILED,
                           seconds)
    return BatchResult(job.content, job.output, None, 0, seconds)


def run_batch(contents: Sequence[str | os.PathLike[str]],
              styles: Sequence[str | os.PathLike[str]],
              folder: str | os.PathLike[str] | None, *, runner: Runner,
              preset: str | None = None, options: dict[str, Any] | None = None,
              subtype: str = "PCM_24", force: bool = False, engine: str = "numpy",
              block_seconds: float | None = None,
              done: Callable[[BatchResult], None] | None = None) -> list[BatchResult]:
    """Style every content after ``styles`` into ``folder`` (see the module notes), each
    read and rendered in blocks of ``block_seconds`` (see `files.transfer_files`).

    Returns the results in the contents' order; ``done`` is called with each as it comes.

    Examples
    --------
    >>> from styletransfer.cluster import LocalRunner
    >>> run_batch(["a.wav", "b.wav"], ["pad.npz"], "out/",
    ...           runner=LocalRunner(2))  # doctest: +SKIP
    """
    subtype = check_batch(styles, preset=preset, options=options, subtype=subtype,
                          engine=engine)
    from .stream import check_block_seconds

    check_block_seconds(block_seconds)
    outputs = batch_outputs(contents, folder)
    for output in outputs:  # the folder can be written, names are not too long
        audio.check_output_path(output, subtype=subtype, force=True)
    given = tuple(sorted((k, v) for k, v in (options or {}).items() if v is not None))
    if preset is not None and os.path.exists(preset):
        preset = os.path.abspath(preset)  # workers may run elsewhere: paths are absolute
    jobs = [BatchJob(os.path.abspath(c), os.path.abspath(o),
                     tuple(os.path.abspath(s) for s in styles), preset, given, subtype, force,
                     engine, block_seconds) for c, o in zip(contents, outputs, strict=True)]

    def as_given(result: BatchResult) -> BatchResult:  # messages name files as given
        index = paths[result.content]
        content, output = str(contents[index]), str(outputs[index])
        error = result.error
        if error is not None:
            error = _named(content, error.replace(result.content, content)
                           .replace(result.output, output))
        return BatchResult(content, output, error, result.code, result.seconds)

    paths = {job.content: index for index, job in enumerate(jobs)}
    results = runner.map(style_one, jobs,
                         done=None if done is None else lambda r: done(as_given(r)))
    return [as_given(r) for r in results]


def _named(content: str, message: str) -> str:
    """``message`` starting with the content's name."""
    return message if message.startswith(content) else f"{content}: {message}"

