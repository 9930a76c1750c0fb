"""Speed of the SuperCollider engine: offline renders, streamed plans and live input.

Three parts, each printing what it measures (nothing is asserted; the exit code is 0):

- ``nrt``: real-time factor of `render_nrt` alone on a 3-minute 44.1 kHz stereo content,
  timbre (preset balanced) and mosaic (preset mosaic), the plan made beforehand. The time
  is split into the scsynth process (its wall and CPU time) and the Python side (score
  building, writing the temporary WAV files, reading the render back); the score building
  alone is also timed.
- ``stream``: `stream_plan` with a booted scsynth (dummy JACK, 64-frame periods at 48 kHz)
  on a 60 s plan of each mode, recorded to a file: Python time per frame to build, encode
  and send its row of the frame table (``send_seconds``), late frames, frames sent, the
  recording's length against the plan's and its relative difference from the NRT render
  of the same plan. Building and encoding each row without the network
  (``PlanScore.table_message`` + ``to_osc``) is timed as well.
- ``input``: `style_input` on a 20 s file with models learnt at 48 kHz in octave bands
  (preset balanced) and quarter-octave bands (preset fine, measured by the FFT analyser):
  loop time per frame (analysis arriving -> gains confirmed by the server), frames, late
  bundles.
- ``nan``: `style_input` on a 60 s file of a melody with stretches of digital silence,
  single NaN and infinite samples and stretches of NaN, recorded: the samples silenced on
  loading, what the input's and the output's safety stages met (their CheckBadValues
  counts), and the non-finite samples in the recording.
- ``control``: `stream_set` of a 30 s content, as one plan (one chain) and after two
  styles in both modes (two chains), with a `ControlListener` on loopback; a controller
  in a process of its own sends a control every 0.1 s (strength, mix, freeze and, with
  two chains, style and mode, in turn) and waits for each reply. Printed: the round trip
  at the controller (message sent -> ``/st/done``, which is sent once the server has
  confirmed the change, `ServerClient.confirm`), the same inside the command (message
  handled -> confirmed), and how many frames after the last frame the server reported
  playing each control took effect from, against ``--latency`` + 2 frames.

A table of measured values against targets ends the output.

Usage::

    .venv/bin/python benchmarks/sc.py [--quick] [--only nrt|stream|input|nan|control]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import soundfile as sf
from pythonosc.osc_packet import OscPacket
from speed import MODE_PRESETS, make_content

from styletransfer.demo import breathy_drone
from styletransfer.plan import RenderPlan
from styletransfer.presets import load_preset
from styletransfer.supercollider import osc
from styletransfer.supercollider.control import ControlListener
from styletransfer.supercollider.live import (
    DEFAULT_LATENCY,
    LiveReport,
    stream_plan,
    stream_set,
    style_input,
)
from styletransfer.supercollider.nrt import render_nrt
from styletransfer.supercollider.score import PlanScore
from styletransfer.supercollider.session import OUTPUT_DC_HZ
from styletransfer.supercollider.timeline import LiveSet
from styletransfer.transfer import learn, plan_transfer

NRT_SR, LIVE_SR = 44100, 48000
PARTS = ("nrt", "stream", "input", "nan", "control")
#: Controls the ``control`` part sends in turn.
CONTROLS: list[tuple[str, tuple[Any, ...]]] = [
    ("/st/strength", (0.3,)), ("/st/mix", (0.6,)), ("/st/style", (1,)), ("/st/freeze", (1,)),
    ("/st/freeze", (0,)), ("/st/mode", ("mosaic",)), ("/st/strength", (0.9,)),
    ("/st/mix", (1.0,)), ("/st/style", (0,)), ("/st/mode", ("timbre",))]


@dataclass(frozen=True)
class Result:
    """One line of the final table: a measured value against its target."""

    name: str
    value: float
    unit: str
    target: float
    higher_is_better: bool

    def line(self) -> str:
        """The table line, with pass/FAIL (``n/a`` when nothing was measured)."""
        if np.isnan(self.value):
            verdict = "n/a"
        elif self.higher_is_better:
            verdict = "pass" if self.value >= self.target else "FAIL"
        else:
            verdict = "pass" if self.value <= self.target else "FAIL"
        sign = ">=" if self.higher_is_better else "<="
        return (f"{self.name:<40} {self.value:>10.3f} {self.unit:<4} "
                f"{sign} {self.target:g} {self.unit:<4} {verdict}")


def load() -> str:
    """The load average, as text."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def stats_ms(values: Sequence[float]) -> tuple[float, float, float]:
    """p50, p99 and max of ``values`` (seconds) in milliseconds."""
    top = max(values) * 1000 if values else float("nan")
    return (LiveReport.percentile_ms(values, 50), LiveReport.percentile_ms(values, 99), top)


def make_plan(mode: str, seconds: float, sr: int, style_seconds: float,
              ) -> tuple[RenderPlan, Any, Any]:
    """A plan of ``mode`` for a synthetic content, with its content and style analyses."""
    content = make_content(seconds, sr=sr).astype(np.float32)
    style = breathy_drone(sr, seconds=style_seconds).astype(np.float32)
    settings = load_preset(MODE_PRESETS[mode]).settings
    return plan_transfer(content, sr, [(style, sr)], settings=settings)


@dataclass
class ProcessTime:
    """Wall and CPU seconds of the child processes run under `timed_subprocesses`."""

    wall: float = 0.0
    cpu: float = 0.0


@contextmanager
def timed_subprocesses() -> Iterator[ProcessTime]:
    """Time every ``subprocess.run`` call (scsynth, in `render_nrt`) made inside."""
    spent = ProcessTime()
    original: Callable[..., Any] = subprocess.run

    def timed(*args: Any, **kwargs: Any) -> Any:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent.wall += time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent.cpu += (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    with mock.patch.object(subprocess, "run", timed):
        yield spent


def bench_nrt(seconds: float) -> list[Result]:
    """Real-time factor of `render_nrt` for each mode, split into scsynth and Python."""
    print(f"\n== nrt: {seconds:.0f} s content, {NRT_SR} Hz stereo, 60 s style ({load()})")
    print(f"{'mode':<7} {'render s':>8} {'x real':>7} {'scsynth s':>9} {'scsynth cpu':>11} "
          f"{'python s':>8} {'score s':>7} {'frames':>7}")
    results = []
    for mode in MODE_PRESETS:
        plan, content_a, style_a = make_plan(mode, seconds, NRT_SR, 60.0)
        with timed_subprocesses() as spent:
            started = time.perf_counter()
            out = render_nrt(plan, content_a, style_a)
            total = time.perf_counter() - started
        assert out.shape[1] == plan.n_samples
        began = time.perf_counter()
        score = PlanScore(plan)
        score.table()
        osc.encode_score(score.nrt_bundles("content.wav", "style.wav", "frames.wav"))
        score_seconds = time.perf_counter() - began
        factor = seconds / total
        print(f"{mode:<7} {total:>8.2f} {factor:>7.1f} {spent.wall:>9.2f} {spent.cpu:>11.2f} "
              f"{total - spent.wall:>8.2f} {score_seconds:>7.2f} {plan.n_frames:>7}", flush=True)
        results.append(Result(f"nrt {mode} {seconds / 60:g} min x real", factor, "x", 20.0,
                              True))
    return results


def encode_times(plan: RenderPlan) -> list[float]:
    """Seconds to build and encode each frame's row of the frame table, without sending it."""
    score = PlanScore(plan)
    times = []
    for index in range(plan.n_frames):
        started = time.perf_counter()
        score.table_message(index, index + 1, rows=plan.n_frames).to_osc()
        times.append(time.perf_counter() - started)
    return times


def bench_stream(seconds: float) -> list[Result]:
    """Python time per streamed frame, late frames, and the recording against the NRT
    render of the same plan, per mode."""
    print(f"\n== stream: {seconds:.0f} s plan, {LIVE_SR} Hz, booted scsynth, 64-frame "
          f"periods ({load()})")
    print(f"{'mode':<7} {'frames':>11} {'send p50':>8} {'p99':>6} {'max':>6} "
          f"{'encode p50':>10} {'p99':>6} {'late':>4} {'recorded':>9} {'expected':>9} "
          f"{'vs nrt':>8}  (ms)")
    results = []
    for mode in MODE_PRESETS:
        plan, content_a, style_a = make_plan(mode, seconds, LIVE_SR, 30.0)
        encoded = encode_times(plan)
        offline = render_nrt(plan, content_a, style_a, dc_hz=OUTPUT_DC_HZ)  # live output stage
        with tempfile.TemporaryDirectory(prefix="st-bench-sc-") as tmp:
            take = Path(tmp) / "take.wav"
            report = stream_plan(plan, content_a, style_a, boot=True, record=take)
            recorded, _ = sf.read(str(take), dtype="float32", always_2d=True)
        live = recorded[:, : plan.n_channels].T
        length = min(live.shape[1], offline.shape[1])
        error = float(np.linalg.norm(live[:, :length] - offline[:, :length])
                      / np.linalg.norm(offline))
        p50, p99, top = stats_ms(report.send_seconds)
        e50, e99, _ = stats_ms(encoded)
        print(f"{mode:<7} {report.frames:>5}/{plan.n_frames:<5} {p50:>8.3f} {p99:>6.3f} "
              f"{top:>6.2f} {e50:>10.3f} {e99:>6.3f} {report.late!s:>4} {live.shape[1]:>9} "
              f"{plan.n_samples:>9} {error:>8.1e}", flush=True)
        late = float("nan") if report.late is None else float(report.late)
        results += [Result(f"stream {mode} send p99", p99, "ms", 1.0, False),
                    Result(f"stream {mode} encode p99 (no network)", e99, "ms", 1.0, False),
                    Result(f"stream {mode} late frames", late, "", 0.0, False),
                    Result(f"stream {mode} |recorded - expected|",
                           float(abs(live.shape[1] - plan.n_samples)), "smp", 0.0, False),
                    Result(f"stream {mode} recording vs nrt", error, "rel", 1e-4, False)]
    return results


def bench_input(seconds: float) -> list[Result]:
    """Loop time of `style_input` on a file, with models learnt at 48 kHz in octave bands
    (preset balanced: ``st_analyser``) and in quarter-octave bands (preset fine:
    ``st_fftanalyser``)."""
    print(f"\n== input: {seconds:.0f} s file, {LIVE_SR} Hz, booted scsynth, 64-frame "
          f"periods ({load()})")
    style = breathy_drone(LIVE_SR, seconds=30.0).astype(np.float32)
    results: list[Result] = []
    print(f"{'preset':>8} {'bands':>5} {'frames':>6} {'answered':>8} {'loop p50':>8} "
          f"{'p99':>6} {'max':>6} {'handler p50':>11} {'p99':>6} {'late':>4}  (ms)")
    for preset in ("balanced", "fine"):
        model = learn([(style, LIVE_SR)], sr=LIVE_SR, n_channels=2,
                      settings=load_preset(preset).settings)
        with tempfile.TemporaryDirectory(prefix="st-bench-sc-") as tmp:
            source = Path(tmp) / "input.wav"
            content = make_content(seconds, sr=LIVE_SR).astype(np.float32)
            sf.write(source, content.T, LIVE_SR, subtype="FLOAT")
            report = style_input(model, boot=True, input_file=source)
        p50, p99, top = stats_ms(report.loop_seconds)
        h50, h99, _ = stats_ms(report.send_seconds)
        print(f"{preset:>8} {model.n_bands_:>5} {report.frames:>6} "
              f"{len(report.loop_seconds):>8} {p50:>8.2f} {p99:>6.2f} {top:>6.2f} "
              f"{h50:>11.3f} {h99:>6.3f} {report.late!s:>4}", flush=True)
        late = float("nan") if report.late is None else float(report.late)
        results += [Result(f"input loop p99, {preset}", p99, "ms", 15.0, False),
                    Result(f"input late bundles, {preset}", late, "", 0.0, False)]
    print(f"hop {model.hop_} samples ({1000 * model.hop_ / LIVE_SR:.1f} ms)")
    return results


def spoiled_content(seconds: float) -> np.ndarray:
    """A mono melody with, every 10 s, a second of digital silence, a NaN, an infinity
    and 3000 samples of NaN."""
    y = make_content(seconds, sr=LIVE_SR)[:1].astype(np.float32)
    for start in range(0, int(seconds * LIVE_SR), 10 * LIVE_SR):
        y[0, start: start + LIVE_SR] = 0.0
        y[0, start + LIVE_SR + 5000] = np.nan
        y[0, start + LIVE_SR + 9000] = np.inf
        y[0, start + 2 * LIVE_SR: start + 2 * LIVE_SR + 3000] = np.nan
    return y


def bench_nan(seconds: float) -> list[Result]:
    """Live input on a file with silent and NaN stretches: what each guard met."""
    print(f"\n== nan: {seconds:.0f} s input file with silence and NaN, {LIVE_SR} Hz, booted "
          f"scsynth ({load()})")
    model = learn([(breathy_drone(LIVE_SR, seconds=20.0).astype(np.float32), LIVE_SR)],
                  sr=LIVE_SR, n_channels=1, settings=load_preset("balanced").settings)
    with tempfile.TemporaryDirectory(prefix="st-bench-sc-") as tmp:
        source, take = Path(tmp) / "input.wav", Path(tmp) / "take.wav"
        y = spoiled_content(seconds)
        sf.write(source, y.T, LIVE_SR, subtype="FLOAT")
        report = style_input(model, boot=True, input_file=source, record=take)
        recorded, _ = sf.read(take, dtype="float32", always_2d=True)
    bad = int(np.count_nonzero(~np.isfinite(recorded)))
    print(f"{'in file':>8} {'silenced on load':>16} {'input stage':>11} {'output stage':>12} "
          f"{'recorded':>9} {'non-finite':>10} {'frames':>6}")
    print(f"{int(np.count_nonzero(~np.isfinite(y))):>8} {report.replaced:>16} "
          f"{report.input_bad_samples!s:>11} {report.bad_samples!s:>12} "
          f"{recorded.shape[0]:>9} {bad:>10} {report.frames:>6}", flush=True)
    met = float(report.bad_samples or 0) + float(report.input_bad_samples or 0)
    return [Result("nan: non-finite samples recorded", float(bad), "", 0.0, False),
            Result("nan: CheckBadValues counts (in + out)", met, "", 0.0, False)]


class Controller:
    """Sends controls one at a time, each after the reply to the one before, and times
    the round trips (at the controller: sent -> ``/st/done``). `play` runs it in a
    process of its own, as a performer's controller (sclang, a MIDI bridge) would be."""

    def __init__(self, address: tuple[str, int], seconds: float,
                 controls: list[tuple[str, tuple[Any, ...]]]) -> None:
        self.address, self.seconds, self.controls = address, seconds, controls
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.round_trips: list[float] = []
        self.ignored = 0

    @classmethod
    def play(cls, address: tuple[str, int], seconds: float,
             controls: list[tuple[str, tuple[Any, ...]]]) -> tuple[list[float], int]:
        """Run a controller to the end: its round trips (s) and the controls not done."""
        controller = cls(address, seconds, controls)
        controller.run()
        return controller.round_trips, controller.ignored

    def ask(self, address: str, args: tuple[Any, ...], timeout: float = 0.5) -> str | None:
        """Send one control; the reply's address (None if none came)."""
        self.sock.settimeout(timeout)
        began = time.perf_counter()
        self.sock.sendto(osc.Message(address, args).to_osc(), self.address)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        reply = OscPacket(data).messages[0].message.address
        if reply == "/st/done":
            self.round_trips.append(time.perf_counter() - began)
        return reply

    def run(self) -> None:
        """Probe until the stream answers, then a control every 0.1 s."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.ask("/st/mix", (1.0,), 0.05) != "/st/done":
            time.sleep(0.05)
        self.round_trips.clear()
        began, count = time.monotonic(), 0
        while time.monotonic() - began < self.seconds:
            address, args = self.controls[count % len(self.controls)]
            if self.ask(address, args) != "/st/done":
                self.ignored += 1
            count += 1
            time.sleep(max(0.0, began + 0.1 * count - time.monotonic()))
        self.sock.sendto(osc.Message("/st/stop", ()).to_osc(), self.address)
        self.sock.close()


def bench_control(seconds: float) -> list[Result]:
    """Control round trips and the frames each control took to take effect: one plan
    (one chain, strength, mix and freeze), then two styles in two modes (two chains,
    every control)."""
    print(f"\n== control: {seconds:.0f} s content, {LIVE_SR} Hz, booted scsynth, 64-frame "
          f"periods, loopback ({load()})")
    content = make_content(seconds, sr=LIVE_SR).astype(np.float32)
    styles = [[(breathy_drone(LIVE_SR, seconds=20.0).astype(np.float32), LIVE_SR)],
              [(make_content(20.0, sr=LIVE_SR, seed=1).astype(np.float32), LIVE_SR)]]
    settings = load_preset("balanced").settings
    print(f"{'set':<18} {'controls':>8} {'round trip p50':>14} {'p99':>6} {'max':>6} "
          f"{'in command p50':>14} {'p99':>6}  (ms) {'effect after (frames) max':>25} "
          f"{'bound':>5} {'late':>4}")
    results = []
    simple = [control for control in CONTROLS if control[0] in ("/st/strength", "/st/mix",
                                                                "/st/freeze")]
    for name, chosen, modes, controls in (("1 style, 1 mode", styles[:1], ["timbre"], simple),
                                          ("2 styles, 2 modes", styles, ["timbre", "mosaic"],
                                           CONTROLS)):
        live = LiveSet.plan(content, LIVE_SR, chosen, settings=settings, modes=modes)
        with ControlListener() as listener, ProcessPoolExecutor(
                1, mp_context=multiprocessing.get_context("spawn")) as pool:
            sent = pool.submit(Controller.play, listener.address, seconds - 6.0, controls)
            report = stream_set(live, boot=True, control=listener)
            round_trips, _ = sent.result(timeout=30)
        frame_seconds = live.first.frame_seconds
        delay = max((float(frames) for frames in report.control_frames), default=float("nan"))
        bound = DEFAULT_LATENCY / frame_seconds + 2
        p50, p99, top = stats_ms(round_trips)
        s50, s99, _ = stats_ms(report.control_seconds)
        print(f"{name:<18} {len(round_trips):>8} {p50:>14.2f} {p99:>6.2f} "
              f"{top:>6.2f} {s50:>14.2f} {s99:>6.2f}      {delay:>25.0f} {bound:>5.1f} "
              f"{report.late_controls:>4}  ({listener.summary()})", flush=True)
        results += [Result(f"control round trip p99, {name}", p99, "ms", 10.0, False),
                    Result(f"control effect after (max), {name}", delay, "fr", bound, False),
                    Result(f"controls too late, {name}", float(report.late_controls), "",
                           0.0, False)]
    return results


def main(argv: list[str] | None = None) -> int:
    """Parse options, run the parts and print the table; always returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="1 min NRT content, 20 s stream, 8 s input, 12 s nan, 15 s "
                        "control")
    parser.add_argument("--only", choices=PARTS, help="run one part only")
    args = parser.parse_args(argv)
    nrt_seconds, stream_seconds, input_seconds, nan_seconds, control_seconds = (
        (60.0, 20.0, 8.0, 12.0, 15.0) if args.quick else (180.0, 60.0, 20.0, 60.0, 30.0))
    parts = [args.only] if args.only else list(PARTS)
    print(f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}, {load()}")
    results: list[Result] = []
    if "nrt" in parts:
        results += bench_nrt(nrt_seconds)
    if "stream" in parts:
        results += bench_stream(stream_seconds)
    if "input" in parts:
        results += bench_input(input_seconds)
    if "nan" in parts:
        results += bench_nan(nan_seconds)
    if "control" in parts:
        results += bench_control(control_seconds)
    print(f"\n{'measure':<40} {'value':>10} {'':<4} target")
    print("-" * 70)
    for result in results:
        print(result.line())
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
