"""Helpers for tests that need SuperCollider: skip cleanly without it, boot a server.

Import from a test module::

    from sc_support import booted_server, require_scsynth

Without scsynth the tests are skipped, except on CI (``CI=true``), where they fail so
that a missing install is never mistaken for a pass.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from styletransfer.supercollider.process import BootedServer


def require_scsynth(*, realtime: bool = False) -> str:
    """Return scsynth's path; skip the test (fail it on CI) when a program is missing.

    With ``realtime=True`` JACK's ``jackd`` and ``jack_wait`` are needed as well.

    Examples
    --------
    >>> require_scsynth().endswith("scsynth")  # doctest: +SKIP
    True
    """
    names = ["scsynth", "jackd", "jack_wait"] if realtime else ["scsynth"]
    missing = [name for name in names if shutil.which(name) is None]
    if missing:
        reason = (f"{', '.join(missing)} not found: install supercollider-server"
                  f"{' and jackd2' if realtime else ''}")
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return str(shutil.which("scsynth"))


@contextmanager
def booted_server(**options: Any) -> Iterator[BootedServer]:
    """A real-time scsynth on a free port (with a private dummy JACK when needed),
    stopped on exit even when the test fails.

    ``options`` go to `BootedServer` (``sample_rate``, ``block_size``, ``timeout``, ...).
    Wrap it in a fixture of the scope you need::

        @pytest.fixture(scope="module")
        def server():
            with booted_server() as booted:
                yield booted
    """
    require_scsynth(realtime=True)
    with BootedServer(**options) as server:
        yield server
