"""Handing freed memory back to the system between the passes of a long run.

Large numpy arrays freed by worker threads often stay with the C allocator rather than
going back to the system: glibc keeps an arena per thread, and it raises its mmap
threshold after freeing large blocks, so later arrays come from those arenas too. A long
run's peak resident memory then adds what one pass left behind to what the next one
needs. `release_freed` asks glibc to return the free pages of every arena
(``malloc_trim``); elsewhere (other C libraries, other systems) it does nothing.

Examples
--------
>>> release_freed() in (True, False)
True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    try:
        library = ctypes.CDLL(name) if name else None
        return None if library is None else library.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed() -> bool:
    """Return the allocator's free pages to the system; whether it could be asked."""
    trim = _trim()
    if trim is None:
        return False
    trim(0)
    return True
