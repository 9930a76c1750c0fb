"""Live synthesis over a long run: late frames and memory of ``live --synth``.

A scsynth is booted here (dummy JACK, 64-frame periods at the style's rate) and a
synthesis in the style (a corpus clip given by ``--style``, or the demo's 8 s breathy
drone at 48 kHz) is played on it for ``--minutes`` (default 10) through the same path
as ``styletransfer live --synth --server``: `synth_set`, then `play_synth`. Every
``--every`` seconds (10) the resident memory (VmRSS) of this Python process and of
scsynth is read from ``/proc``.

Printed: each sample, then per process the growth from the first sample to the last
and the largest growth over the run (the target is below 10 MB for 10 minutes), the
late frames (the ring's, plus the late bundles scsynth reported) and the Python time
per frame. Nothing is asserted; the exit code is 0.

Usage::

    .venv/bin/python benchmarks/synth_live.py [--minutes M] [--style FILE] [--every S]
"""

from __future__ import annotations

import argparse
import threading
import time
from pathlib import Path
from unittest import mock

import numpy as np

from styletransfer import audio
from styletransfer.demo import breathy_drone
from styletransfer.supercollider.live import _Ring
from styletransfer.supercollider.live_synth import play_synth, synth_set
from styletransfer.supercollider.process import BootedServer
from styletransfer.synth import prepare
from styletransfer.synth_settings import SynthSettings

SR = 48000


def rss_mb(pid: int | str) -> float:
    """Resident memory of process ``pid`` in MB (NaN if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


class Sampler:
    """Reads the RSS of this process and of ``other`` every ``every`` seconds."""

    def __init__(self, other: int, every: float) -> None:
        self.other, self.every = other, every
        self.samples: list[tuple[float, float, float]] = []
        self.done = threading.Event()
        self.began = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.done.wait(self.every):
            row = (time.monotonic() - self.began, rss_mb("self"), rss_mb(self.other))
            self.samples.append(row)
            print(f"  {row[0]:7.0f} s  python {row[1]:8.1f} MB  scsynth {row[2]:8.1f} MB",
                  flush=True)

    def __enter__(self) -> Sampler:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.thread.join()


def growth(values: np.ndarray) -> tuple[float, float]:
    """From the first sample to the last, and the largest rise above the first (MB)."""
    if values.size < 2:
        return float("nan"), float("nan")
    return float(values[-1] - values[0]), float(np.max(values - values[0]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the run")
    parser.add_argument("--style", help="a style clip (default: the demo drone, 8 s)")
    parser.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.style:
        y, sr = audio.load(args.style)
    else:
        y, sr = breathy_drone(SR, seconds=8.0).astype(np.float32), SR
    index = prepare([(y, sr)])
    live = synth_set([index], SynthSettings(), seed=args.seed, seconds=args.minutes * 60)
    print(f"live synth: {args.minutes:g} min at {index.style.sr} Hz, "
          f"{live.n_frames} frames of {live.first.hop} samples")
    late_at: list[int] = []  # the frames reported late, to tell where they fell
    counted = _Ring.on_late

    def on_late(ring: _Ring, message: tuple[object, ...], arrived: float) -> None:
        late_at.append(int(float(message[2])))  # type: ignore[arg-type]
        counted(ring, message, arrived)

    with BootedServer(sample_rate=index.style.sr) as server, \
            mock.patch.object(_Ring, "on_late", on_late):
        assert server.pid is not None
        with Sampler(server.pid, args.every) as sampler:
            report = play_synth(live, server=f"{server.host}:{server.port}")
        late_bundles = server.late_count
    rows = np.array(sampler.samples, dtype=np.float64).reshape(-1, 3)
    python, scsynth = growth(rows[:, 1]), growth(rows[:, 2])
    print(f"frames sent {report.frames} of {live.n_frames}; late frames {report.late}, "
          f"late bundles (scsynth) {late_bundles}"
          f"{'; late at frames ' + str(late_at[:20]) if late_at else ''}")
    print(f"Python time per frame p50 {report.percentile_ms(report.send_seconds, 50):.3f} ms,"
          f" p99 {report.percentile_ms(report.send_seconds, 99):.3f} ms")
    print(f"RSS growth over {rows[-1, 0] - rows[0, 0] if rows.size else 0:.0f} s "
          f"({len(rows)} samples): python {python[0]:+.2f} MB (largest {python[1]:+.2f}), "
          f"scsynth {scsynth[0]:+.2f} MB (largest {scsynth[1]:+.2f}); target < 10 MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
