"""Long content: peak memory and speed of ``styletransfer run`` from 3 minutes to an hour.

Writes a synthesised 44.1 kHz stereo content of each length to a temporary folder, block
by block (a plucked melody, transposed as it goes on, with a little noise; never held whole
in memory), and a 1-minute stereo style (a breathy drone). Then runs the command in a fresh
process per preset and length and prints its wall time, CPU time (user + system), the
real-time factor (audio seconds per wall second, start-up included) and its peak resident
memory (``ru_maxrss`` of that child alone: a small fresh process starts it, see
`speed.run_once`). The targets are printed for information: the exit code is always 0. The load
average before and after is printed, as other work on the machine inflates wall times.

Usage::

    .venv/bin/python benchmarks/long.py                       # 3, 10, 30 and 60 minutes
    .venv/bin/python benchmarks/long.py --minutes 3,10 --presets balanced
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from speed import SR, Timing, run_once

from styletransfer.demo import MELODY, breathy_drone, plucked_melody

#: Peak memory (MiB) wanted at every length, and real-time factors wanted for balanced.
MEMORY_TARGET, SPEED_TARGET = 400.0, 100.0
#: Seconds of content synthesised at a time.
CHUNK_SECONDS = 30.0


def content_chunk(index: int, seconds: float = CHUNK_SECONDS) -> np.ndarray:
    """``(2, n)`` stereo chunk ``index`` of the long content: the melody transposed by a
    step that changes from chunk to chunk, half-second notes, an 11 ms inter-channel delay.

    Examples
    --------
    >>> content_chunk(3, seconds=1.0).shape
    (2, 44100)
    """
    steps = (0, 5, -3, 7, 2, -5, 4, -2)
    n_notes = int(np.ceil(seconds / 0.5))
    notes = tuple(MELODY[(i + index) % len(MELODY)] + steps[index % len(steps)]
                  for i in range(n_notes))
    mono = plucked_melody(SR, notes=notes, note_seconds=0.5)[0, : int(seconds * SR)]
    rng = np.random.default_rng(index)
    delay = int(0.011 * SR)
    left = mono + 0.002 * rng.standard_normal(mono.size)
    right = 0.8 * np.roll(mono, delay) + 0.002 * rng.standard_normal(mono.size)
    y = np.stack([left, right])
    return np.asarray(0.5 * y / np.max(np.abs(y)))


def write_long_content(path: Path, minutes: float) -> None:
    """Write ``minutes`` of content (24-bit WAV) chunk by chunk."""
    total = round(minutes * 60 * SR)
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=2, subtype="PCM_24") as out:
        written, index = 0, 0
        while written < total:
            chunk = content_chunk(index)[:, : total - written]
            out.write(chunk.T)
            written += chunk.shape[1]
            index += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="3,10,30,60", metavar="LIST",
                        help="content lengths in minutes (default 3,10,30,60)")
    parser.add_argument("--presets", default="balanced,mosaic", metavar="LIST",
                        help="presets to run (default balanced,mosaic)")
    parser.add_argument("--block-seconds", default=None, metavar="SECONDS",
                        help="passed on to the command (default: its own)")
    parser.add_argument("--folder", default=None, metavar="DIR",
                        help="where to write the audio (default: a temporary folder)")
    args = parser.parse_args(argv)
    lengths = [float(part) for part in args.minutes.split(",") if part.strip()]
    presets = [part.strip() for part in args.presets.split(",") if part.strip()]
    extra = ["--block-seconds", args.block_seconds] if args.block_seconds else []
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="st-long-", dir=args.folder) as work:
        folder = Path(work)
        style = folder / "style.wav"
        sf.write(style, breathy_drone(SR, seconds=60.0).T, SR, subtype="PCM_24")
        startup = run_once([sys.executable, "-c",
                           "import styletransfer.cli, sklearn.mixture, sklearn.neighbors"])
        print(f"start-up only: {startup.wall:.2f} s wall, {startup.rss_mib:.0f} MiB")
        header = (f"{'preset':<9} {'minutes':>7} {'wall s':>8} {'cpu s':>8} {'x real':>7} "
                  f"{'peak MiB':>9}  targets")
        print(header)
        print("-" * len(header))
        for minutes in lengths:
            content = folder / "content.wav"
            write_long_content(content, minutes)
            for preset in presets:
                timing = _run(content, style, folder / "out.wav", preset, extra)
                factor = minutes * 60 / timing.wall
                checks = [f"<= {MEMORY_TARGET:.0f} MiB: "
                          f"{'pass' if timing.rss_mib <= MEMORY_TARGET else 'FAIL'}"]
                if preset == "balanced":
                    checks.append(f">= {SPEED_TARGET:.0f}x: "
                                  f"{'pass' if factor >= SPEED_TARGET else 'FAIL'}")
                print(f"{preset:<9} {minutes:>7g} {timing.wall:>8.2f} {timing.cpu:>8.2f} "
                      f"{factor:>7.1f} {timing.rss_mib:>9.0f}  {', '.join(checks)}",
                      flush=True)
            content.unlink()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


def _run(content: Path, style: Path, out: Path, preset: str, extra: list[str]) -> Timing:
    return run_once([sys.executable, "-m", "styletransfer", "run", str(content), "--style",
                    str(style), "-o", str(out), "--preset", preset, "--force", "--quiet",
                    *extra])


if __name__ == "__main__":
    sys.exit(main())
