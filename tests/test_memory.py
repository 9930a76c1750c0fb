"""`memory.release_freed` gives the allocator's free pages back to the system."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import numpy as np
from styletransfer.memory import release_freed
def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status")
                if l.startswith("VmRSS")) / 1024
big = np.ones(2 << 20); del big  # freeing a mapped 16 MiB block raises the mmap threshold
parts = [np.ones(1 << 17) for _ in range(300)]  # so these 300 MiB come from the heap
keep = parts[-1]; del parts  # the last one pins the heap's top: only a trim frees the rest
before = rss(); asked = release_freed(); after = rss()
print(asked, before, after)
"""


def test_freed_heap_goes_back_to_the_system() -> None:
    # glibc's defaults: a MALLOC_* setting fixes the thresholds (Dask's local clusters put
    # MALLOC_TRIM_THRESHOLD_ in the environment of the process that starts them)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          check=True, env=env)
    asked, before, after = done.stdout.split()
    assert asked == "True"  # glibc, as on every machine this runs on
    assert float(before) - float(after) > 200, done.stdout
