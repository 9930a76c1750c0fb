"""Input paths: what every reader checks before it opens a file.

Only regular files are read: a named pipe or a device (``/dev/zero``) would block a
reader forever or feed it without end.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ParameterError


def regular_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a `Path` if it names a regular file (or a link to one) we may read.

    Raises `ParameterError` for a path that is missing, a folder, a named pipe, a
    device, a socket or unreadable, without opening it.

    Examples
    --------
    >>> regular_file("/dev/null")
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: /dev/null: is a device, not a file: name a regular file
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ParameterError(f"{path}: no such file: check the path") from None
    except NotADirectoryError:
        raise ParameterError(f"{path}: no such file (a part of the path is a file, not a "
                             "folder): check the path") from None
    except OSError as exc:
        raise ParameterError(f"{path}: cannot be read ({exc.strerror}): check the path "
                             "and its permissions") from None
    if stat.S_ISDIR(mode):
        raise ParameterError(f"{path}: is a folder, not a file: name a file")
    if not stat.S_ISREG(mode):
        kind = ("a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
                else "a device")
        raise ParameterError(f"{path}: is {kind}, not a file: name a regular file")
    if not os.access(path, os.R_OK):
        raise ParameterError(f"{path}: cannot be read (permission denied): check its "
                             "permissions")
    return path
