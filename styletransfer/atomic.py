"""Atomic file writing: a temporary file beside the target, renamed into place when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ParameterError


@contextmanager
def atomic_target(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``target`` only if the block succeeds.

    On any error (or Ctrl-C) the temporary file is removed and ``target`` is untouched.

    Examples
    --------
    >>> with atomic_target("/tmp/example.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> Path("/tmp/example.txt").read_text()
    'complete'
    """
    target = Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                dir=target.parent if str(target.parent) else ".")
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.chmod(0o666 & ~_current_umask())
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str | os.PathLike[str], *,
                 inputs: tuple[str | os.PathLike[str], ...] = (), force: bool = False) -> Path:
    """Check, before any work, that a result may be written to ``path``.

    Raises `ParameterError` when its folder is missing or not writable, it is a folder,
    it is one of ``inputs`` (also through a link), or it exists and ``force`` is false.

    Examples
    --------
    >>> check_target("/tmp/result.wav", force=True)
    PosixPath('/tmp/result.wav')
    """
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ParameterError(f"{target}: folder {parent} does not exist: create it first")
    if not os.access(parent, os.W_OK):
        raise ParameterError(f"{target}: cannot write in folder {parent}: choose another folder")
    for item in inputs:
        source = Path(item)
        if source.exists() and (target.resolve() == source.resolve() or
                                (target.exists() and os.path.samefile(target, source))):
            raise ParameterError(f"{target}: is also an input: choose another path")
    if target.is_dir():
        raise ParameterError(f"{target}: is a folder: name a file")
    if target.exists() and not force:
        raise ParameterError(f"{target}: already exists: pass --force to overwrite it")
    return target
