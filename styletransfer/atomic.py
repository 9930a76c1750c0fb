"""Atomic file writing: a temporary file beside the target, renamed into place when complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
