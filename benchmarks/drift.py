"""Live timing over a long stream: frames on the server's audio clock, against bundles
timed by the system clock.

A booted scsynth (dummy JACK, 64-frame periods at 48 kHz) plays for ``--minutes``
(default 10), twice, each time recorded by ``st_recorder`` (on the audio clock):

- ``system clock`` (no compensation): one click every second, each sent as a bundle timed
  ``start + k`` seconds by the system clock, as live parameters were once timed. The drift
  is where each click lands in the recording minus where it belongs (``k * sr`` samples
  after the first), in samples: the gap between the system clock and the audio clock.
- ``audio clock`` (`stream_plan`): a plan whose band gains flip between 1 and 0.25
  every 25 frames, over a steady two-tone content. The frames are played by
  ``st_frames`` from the frame table on the audio clock. The recording is compared with
  the NRT render of the same plan (with the live output stage's DC filter): the offset
  of every gain flip (the sample where the recording's level crosses halfway, against
  the render's), and the relative difference
  of the whole recording.

Printed: the drift at 1, 2, 5 and 10 minutes and its largest magnitude, for each, and the
audio clock's rate against the system clock as the stream measured it. Nothing is
asserted; the exit code is 0.

Usage::

    .venv/bin/python benchmarks/drift.py [--minutes M]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from styletransfer.analysis import analyse
from styletransfer.plan import RenderPlan
from styletransfer.settings import Settings
from styletransfer.supercollider import osc
from styletransfer.supercollider.compile import synthdef_bytes
from styletransfer.supercollider.live import stream_plan
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.process import BootedServer
from styletransfer.supercollider.session import OUTPUT_DC_HZ
from styletransfer.transfer import analysis_grid

SR = 48000
FLIP_FRAMES = 25


def system_clock_drift(minutes: float) -> np.ndarray:
    """Samples by which each of a click-a-second's bundles, timed by the system clock,
    lands away from where it belongs on the audio clock."""
    seconds = int(minutes * 60)
    with tempfile.TemporaryDirectory(prefix="st-drift-") as work, \
            BootedServer(sample_rate=SR) as server, server.client() as client:
        folder = Path(work)
        click = np.zeros((64, 2), dtype=np.float32)
        click[0] = 1.0
        sf.write(folder / "click.wav", click, SR, subtype="FLOAT")
        for name in ("st_play", "st_recorder"):
            client.send_def(synthdef_bytes(name))
        client.alloc_read(10, str(folder / "click.wav"))
        client.alloc(11, 65536, 2)
        client.request(osc.b_write(11, str(folder / "take.wav"), "wav", "float", 0, 0,
                                   leave_open=True), "/done", match=("/b_write",))
        client.sync()
        t0 = time.time() + 0.3
        client.send(osc.Bundle(t0, (osc.s_new("st_recorder", 3000, osc.AddAction.TAIL, 0, {
            "buf": 11, "in_bus": 0, "dur": seconds + 1.0}),)))
        for k in range(seconds):
            when = t0 + 0.5 + k
            time.sleep(max(0.0, when - 0.2 - time.time()))
            client.send(osc.Bundle(when, (osc.s_new("st_play", -1, osc.AddAction.HEAD, 0, {
                "buf": 10, "out_bus": 0}),)))
        time.sleep(2.0)
        client.sync()
        client.request(osc.b_close(11), "/done", match=("/b_close",))
        recorded, _ = sf.read(folder / "take.wav", always_2d=True)
    clicks = np.flatnonzero(recorded[:, 0] > 0.5)
    return np.asarray(clicks - clicks[0] - SR * np.arange(clicks.size), dtype=np.float64)


def flip_plan(minutes: float) -> tuple[RenderPlan, np.ndarray]:
    """A timbre plan whose gains flip every `FLIP_FRAMES` frames, and its content."""
    n = int(minutes * 60 * SR)
    t = np.arange(n) / SR
    tones = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 3520 * t)
    content = tones.astype(np.float32)[None, :]
    level, hop = analysis_grid(Settings(), SR)
    frames = -(-n // hop)
    flips = np.where((np.arange(frames) // FLIP_FRAMES) % 2 == 0, 1.0, 0.25)
    plan = RenderPlan.identity(sr=SR, n_samples=n, n_channels=1, wavelet="sym12",
                               level=level, hop=hop)
    gains = np.repeat(flips[:, None], plan.n_bands, axis=1).astype(np.float32)
    return dataclasses.replace(plan, mode="timbre", gains=gains), content


def crossings(y: np.ndarray, hop: int) -> np.ndarray:
    """Samples where the level (RMS over a frame) crosses halfway between its extremes."""
    power = np.convolve(y[0] ** 2, np.ones(hop) / hop, mode="same")
    level = np.sqrt(power)
    middle = 0.5 * (level.max() + level.min())
    above = level > middle
    return np.flatnonzero(above[1:] != above[:-1])


def audio_clock_drift(minutes: float) -> tuple[np.ndarray, float, int, float]:
    """Offsets of the gain flips in a streamed recording against the NRT render, the
    recording's relative difference from it, the late frames and the audio clock's rate
    as the stream measured it (samples per system-clock second)."""
    plan, content = flip_plan(minutes)
    analysis = analyse(content, SR, wavelet=plan.wavelet, level=plan.level, hop=plan.hop)
    offline = render_nrt(plan, analysis, dc_hz=OUTPUT_DC_HZ)  # the live output stage
    with tempfile.TemporaryDirectory(prefix="st-drift-") as work:
        take = Path(work) / "take.wav"
        report = stream_plan(plan, analysis, None, boot=True, record=take)
        recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    live = recorded[:, :1].T
    theirs, ours = crossings(offline, plan.hop), crossings(live, plan.hop)
    count = min(theirs.size, ours.size)
    error = float(np.linalg.norm(live[:, : offline.shape[1]] - offline[:, : live.shape[1]])
                  / np.linalg.norm(offline))
    return ((ours[:count] - theirs[:count]).astype(np.float64), error, int(report.late or 0),
            float(report.audio_rate or np.nan))


def at_minutes(offsets: np.ndarray, seconds_each: float, minutes: float) -> str:
    """The offsets at 1, 2, 5 and 10 minutes (those within the run) and the largest."""
    marks = [m for m in (1, 2, 5, 10) if m <= minutes]
    cells = []
    for mark in marks:
        index = min(offsets.size - 1, int(mark * 60 / seconds_each))
        cells.append(f"{mark:g} min {offsets[index]:+.0f}")
    return ", ".join(cells) + f"; largest |drift| {np.abs(offsets).max():.0f} samples"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each run")
    args = parser.parse_args(argv)
    print(f"== {args.minutes:g} min at {SR} Hz on a booted scsynth (dummy JACK, 64-frame "
          "periods)")
    drift = system_clock_drift(args.minutes)
    print(f"system clock (bundles timed by it): {at_minutes(drift, 1.0, args.minutes)} "
          f"({drift.size} clicks)", flush=True)
    flips, error, late, rate = audio_clock_drift(args.minutes)
    seconds_each = FLIP_FRAMES * 1024 / SR
    print(f"audio clock (st_frames): {at_minutes(flips, seconds_each, args.minutes)} "
          f"({flips.size} gain flips); recording vs NRT render {error:.1e} relative; "
          f"late frames {late}; the audio clock ran at {rate:.1f} Hz by the system clock "
          f"({1e6 * (rate / SR - 1):+.0f} ppm)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
