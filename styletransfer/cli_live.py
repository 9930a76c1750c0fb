"""The ``live`` command's handlers: a transfer streamed to a server, live input, a live
synthesis, with the control listener and the summary lines they print.

Examples
--------
>>> from styletransfer.cli import main
>>> main(["live", "song.wav", "--style", "strings.wav", "--boot"])  # doctest: +SKIP
0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .cli import _preload_models, _say
from .cli_parser import PROG, settings_options
from .errors import ParameterError
from .presets import load_preset


def live(args: argparse.Namespace) -> int:
    """``styletransfer live``: check the options and the outputs, then play a transfer, the
    live input or a synthesis (``--synth``); returns the exit code."""
    from .atomic import check_target
    from .paths import regular_file

    inputs = [path for group in args.style for path in group]
    inputs += [args.content] if args.content else []
    if args.record is not None:
        if not args.record.lower().endswith(".wav"):
            raise ParameterError(f"--record {args.record}: must end in .wav")
        check_target(Path(args.record), inputs=tuple(inputs), force=args.force)
    if args.control_host is not None and args.control_port is None:
        raise ParameterError("--control-host goes with --control-port: give both")
    _check_live_synth(args)
    if args.input:
        if args.content is not None:
            raise ParameterError("give CONTENT or --input, not both")
        if args.switch_modes:
            raise ParameterError("--switch-modes plays CONTENT in both modes: leave it out "
                                 "with --input")
        if args.input_file is not None:
            regular_file(args.input_file)
    elif not args.synth:
        if args.content is None:
            raise ParameterError("no CONTENT given: name a content file, or use --input "
                                 "or --synth")
        if args.input_file is not None or args.seconds is not None:
            raise ParameterError("--input-file goes with --input, --seconds with --input "
                                 "or --synth")
        regular_file(args.content)  # before a control port is opened and announced
    with _control_listener(args) as control:
        if args.synth:
            return _live_synth(args, control)
        if args.input:
            return _live_input(args, control)
        return _live_stream(args, control)


@contextmanager
def _control_listener(args: argparse.Namespace) -> Iterator[Any]:
    """The control listener asked for (None without --control-port), bound before any
    work so that a port in use is reported at once; its counts are printed at the end."""
    if args.control_port is None:
        yield None
        return
    from .supercollider.control import ControlListener

    listener = ControlListener(host=args.control_host or "127.0.0.1", port=args.control_port)
    try:
        if not args.quiet:
            host, port = listener.address
            _say(f"listening for control messages on {host}:{port}")
        yield listener
    finally:
        listener.close()
        if not args.quiet:
            _say(listener.summary())


def _live_input(args: argparse.Namespace, control: Any) -> int:
    from .supercollider.live import style_input

    models = [_live_model(args, group) for group in args.style]
    report = style_input(models[0], server=args.server, boot=args.boot,
                         strength=args.strength if args.strength is not None else 0.8,
                         input_file=args.input_file, seconds=args.seconds,
                         record=args.record, styles=models[1:], control=control)
    if not args.quiet:
        held = f" ({report.held} held frozen)" if report.held else ""
        print(f"{PROG}: {report.frames} input frames styled{held}; analysis-to-parameter "
              f"latency p50 {report.percentile_ms(report.loop_seconds, 50):.2f} ms, "
              f"p99 {report.percentile_ms(report.loop_seconds, 99):.2f} ms"
              f"{_late(report.late)}{_safety(report)}{_stopped(report)}", file=sys.stderr)
    return 0


def _live_stream(args: argparse.Namespace, control: Any) -> int:
    from .files import live_set_files
    from .supercollider.live import stream_set
    from .supercollider.session import check_server

    _preload_models()
    live = live_set_files(args.content, args.style, preset=args.preset,
                          options=settings_options(args), switch_modes=args.switch_modes,
                          before_planning=lambda: check_server(args.server))
    plan = live.first

    def note(sent: int, total: int) -> None:
        if not args.quiet and sys.stderr.isatty():
            print(f"\r{PROG}: {sent}/{total} frames", end="", file=sys.stderr, flush=True)

    report = stream_set(live, server=args.server, boot=args.boot, latency=args.latency,
                        record=args.record, on_frame=note, control=control)
    if not args.quiet:
        played = "until /st/stop" if report.stopped else f"{plan.duration:.1f} s"
        print(f"{'' if not sys.stderr.isatty() else chr(13)}{PROG}: played {played}"
              f" ({report.frames} frames sent){_frame_summary(report)}", file=sys.stderr)
    if args.record:
        print(args.record)
    return 0


def _check_live_synth(args: argparse.Namespace) -> None:
    """One line for a ``live`` option that does not fit --synth (or needs it)."""
    from .synth_settings import synth_field_types

    given = [f"--{name.replace('_', '-')}" for name in synth_field_types()
             if getattr(args, name, None) is not None]
    if not args.synth:
        if given:
            raise ParameterError(f"{given[0]} is a synthesis option: it goes with --synth")
        return
    for option, value in (("CONTENT", args.content), ("--input", args.input or None),
                          ("--input-file", args.input_file),
                          ("--switch-modes", args.switch_modes or None),
                          ("--mode", args.mode), ("--strength", args.strength)):
        if value is not None:
            raise ParameterError(f"--synth plays new sound in the style alone: leave out "
                                 f"{option}")


def _live_synth(args: argparse.Namespace, control: Any) -> int:
    from .synth_live import live_synth_files, play_synth
    from .synth_settings import synth_field_types

    live = live_synth_files(args.style, seconds=args.seconds, preset=args.preset,
                            options=settings_options(args),
                            synth_options={name: getattr(args, name, None)
                                           for name in synth_field_types()})
    report = play_synth(live, server=args.server, boot=args.boot, latency=args.latency,
                        record=args.record, control=control)
    if not args.quiet:
        played = report.frames * live.first.frame_seconds
        how = " until Ctrl-C" if report.interrupted else \
            " until /st/stop" if report.stopped else ""
        print(f"{PROG}: synthesised and played about {played:.1f} s{how} ({report.frames} "
              f"frames sent){_frame_summary(report)}", file=sys.stderr)
    if args.record:
        print(args.record)
    return 0


def _frame_summary(report: Any) -> str:
    """The end of a streamed run's summary line: Python's time per frame, the late frames,
    the output's safety counts and why it stopped."""
    return (f"; Python time per frame p50 {report.percentile_ms(report.send_seconds, 50):.3f}"
            f" ms, p99 {report.percentile_ms(report.send_seconds, 99):.3f} ms"
            f"{_late(report.late, 'late frames')}{_safety(report)}{_stopped(report)}")


def _stopped(report: Any) -> str:
    """The controls' part of the summary line."""
    parts = []
    if report.control_seconds:
        parts.append(f"control to server p99 "
                     f"{report.percentile_ms(report.control_seconds, 99):.2f} ms")
    if report.late_controls:
        parts.append(f"{report.late_controls} controls came too late for their frame")
    return "".join(f"; {part}" for part in parts)


def _late(count: int | None, what: str = "late bundles") -> str:
    return "" if count is None else f"; {what}: {count}"


def _safety(report: Any) -> str:
    """What the safety stages silenced, for the summary line (nothing when all was finite)."""
    parts = []
    if report.replaced:
        parts.append(f"{report.replaced} non-finite samples of the file played as silence")
    if report.input_bad_samples:
        parts.append(f"{report.input_bad_samples} non-finite input samples silenced")
    if report.bad_samples:
        parts.append(f"{report.bad_samples} non-finite output samples silenced")
    return "".join(f"; {part}" for part in parts)


def _live_model(args: argparse.Namespace, style: list[str]) -> Any:
    from . import audio
    from .files import MODEL_SUFFIX
    from .model import StyleModel
    from .settings import Settings
    from .transfer import learn

    audio.check_rate(args.sr, name="--sr")
    if len(style) == 1 and style[0].lower().endswith(MODEL_SUFFIX):
        model, _ = StyleModel.load(style[0])
        if model.sr_ != args.sr:
            raise ParameterError(f"{style[0]}: learnt at {model.sr_} Hz: use --sr "
                                 f"{model.sr_} (the server's rate must match)")
        return model
    settings = (load_preset(args.preset).check_kind(synthesis=False).settings if args.preset
                else Settings())
    settings = settings.updated(settings_options(args)).checked()
    tracks = [audio.load(path) for path in style]
    return learn(tracks, sr=args.sr, n_channels=1, settings=settings,
                 names=list(style))
