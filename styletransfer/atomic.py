"""Atomic file writing: temporary files beside the targets, put in place when complete.

Without ``force`` a target is never replaced, not even one that appeared while the work
ran: the temporary file is linked to the target's name, which fails if the name exists.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import ParameterError

#: The temporary file's name: ``.NAME.`` + 8 random characters + ``.part``.
_TEMP_PREFIX, _TEMP_SUFFIX, _TEMP_RANDOM = ".", ".part", 8


@contextmanager
def atomic_targets(targets: Sequence[str | os.PathLike[str]], *,
                   force: bool = False) -> Iterator[list[Path]]:
    """Yield temporary paths to write, one per target; they take the targets' names only
    if the block succeeds, all of them.

    On any error (or Ctrl-C, or a signal) the temporary files are removed, and targets
    already put in place by this call are removed again: nothing of the work remains.
    Without ``force``, a target that exists when the work is done is left as it is and
    `ParameterError` is raised.

    Examples
    --------
    >>> with atomic_targets(["/tmp/a.txt", "/tmp/b.txt"], force=True) as (a, b):
    ...     _ = a.write_text("one"), b.write_text("two")
    >>> Path("/tmp/b.txt").read_text()
    'two'
    """
    paths = [Path(target) for target in targets]
    temps: list[Path] = []
    placed: list[Path] = []
    try:
        for target in paths:
            fd, name = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{target.name}.",
                                        suffix=_TEMP_SUFFIX, dir=_folder(target))
            os.close(fd)
            temps.append(Path(name))
            temps[-1].chmod(0o666 & ~_current_umask())
        yield temps
        for temp, target in zip(temps, paths, strict=True):
            _place(temp, target, force=force)
            placed.append(target)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        raise
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)


@contextmanager
def atomic_target(target: str | os.PathLike[str], *, force: bool = True) -> Iterator[Path]:
    """`atomic_targets` for one target.

    Examples
    --------
    >>> with atomic_target("/tmp/example.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> Path("/tmp/example.txt").read_text()
    'complete'
    """
    with atomic_targets([target], force=force) as (temp,):
        yield temp


def _place(temp: Path, target: Path, *, force: bool) -> None:
    """Give ``temp``'s file the name ``target``; without ``force``, never over a file."""
    if force:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails if the name exists: no check-then-replace race
    except FileExistsError:
        raise ParameterError(f"{target}: appeared while this run worked, and is left as it "
                             "is: pass --force to overwrite it") from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV,
                             errno.EMLINK):
            raise
        if target.exists():  # a file system without hard links: check, then rename
            raise ParameterError(f"{target}: appeared while this run worked, and is left "
                                 "as it is: pass --force to overwrite it") from None
        os.replace(temp, target)


def _folder(target: Path) -> Path:
    return target.parent if str(target.parent) else Path(".")


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_target(path: str | os.PathLike[str], *,
                 inputs: tuple[str | os.PathLike[str], ...] = (), force: bool = False) -> Path:
    """Check, before any work, that a result may be written to ``path``.

    Raises `ParameterError` when its folder is missing, is a file or is not writable (a
    temporary file is made there and removed, which also tests read-only file systems),
    the name is too long for the temporary file beside it, it is a folder, it is one of
    ``inputs`` (also through a link), or it exists and ``force`` is false.

    Examples
    --------
    >>> check_target("/tmp/result.wav", force=True)
    PosixPath('/tmp/result.wav')
    """
    target = Path(path)
    if str(path).endswith(os.sep) or target.is_dir():
        raise ParameterError(f"{path}: is a folder: name a file in it")
    parent = _folder(target)
    if parent.exists() and not parent.is_dir():
        raise ParameterError(f"{target}: {parent} is a file, not a folder: choose another "
                             "path")
    if not parent.is_dir():
        raise ParameterError(f"{target}: folder {parent} does not exist: create it first")
    longest = _name_max(parent)
    temp_name = f"{_TEMP_PREFIX}{target.name}.{'x' * _TEMP_RANDOM}{_TEMP_SUFFIX}"
    if len(os.fsencode(temp_name)) > longest:
        raise ParameterError(f"{target}: the file name is too long ({len(os.fsencode(target.name))}"
                             f" bytes; this folder allows {longest}, and the temporary file "
                             f"beside it needs {len(temp_name) - len(target.name)} more): "
                             "choose a shorter name")
    for item in inputs:
        source = Path(item)
        if source.exists() and (target.resolve() == source.resolve() or
                                (target.exists() and os.path.samefile(target, source))):
            raise ParameterError(f"{target}: is also an input: choose another path")
    if target.exists() and not force:
        raise ParameterError(f"{target}: already exists: pass --force to overwrite it")
    try:
        fd, probe = tempfile.mkstemp(prefix=".st-probe-", dir=parent)
    except OSError as exc:
        raise ParameterError(f"{target}: cannot write in folder {parent} ({exc.strerror}): "
                             "choose another folder") from None
    os.close(fd)
    os.unlink(probe)
    return target


def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError):
        return 255
