"""The ``styletransfer`` command: parses arguments and calls the library.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 an internal error or a refusal
of the system (disk full, no permission), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import NoReturn

from .cli_parser import PROG, build_parser, negative_words, settings_options
from .errors import EngineError, InternalError, ParameterError, Terminated
from .presets import builtin_presets, load_preset
from .progress import CountBar, StageBar
from .transfer import STAGES


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code.

    Examples
    --------
    >>> main(["presets"])  # doctest: +SKIP
    balanced  The content's own sound in the style's tone colour; the default
    """
    with _stopping_signals():
        code = _main(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # stdout closed early (| head): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    return code


def run() -> NoReturn:
    """The ``styletransfer`` command: `main`, then exit with its code.

    What the command made is left to the operating system to free: the interpreter's last
    collection of every object (half a second with scikit-learn loaded) is skipped.
    """
    code = main()
    gc.freeze()
    sys.exit(code)


def _left_behind(args: argparse.Namespace | None) -> str:
    """What an interrupted command leaves: nothing, or a live run's recording so far.

    Examples
    --------
    >>> _left_behind(argparse.Namespace(command="live", record="take.wav"))
    'the recording so far is in take.wav'
    >>> _left_behind(None)
    'no output was written'
    """
    if args is not None and args.command == "live" and getattr(args, "record", None):
        return f"the recording so far is in {args.record}"
    return "no output was written"


def _main(argv: Sequence[str] | None) -> int:
    """`main` without the signal handlers: runs the command, and turns errors into exit
    codes and one line each."""
    args: argparse.Namespace | None = None
    try:
        args = build_parser().parse_args(negative_words(
            sys.argv[1:] if argv is None else argv))
        if args.command is None:
            build_parser().print_help()
            return 2
        return int(_COMMANDS[args.command](args))
    except ParameterError as exc:
        _say(f"error: {exc}")
        return 2
    except EngineError as exc:
        _say(f"error: {exc}")
        return 1
    except InternalError as exc:
        _say(f"internal error: {exc}")
        return 1
    except Terminated as exc:
        _say(f"stopped by {signal.Signals(exc.signum).name}; {_left_behind(args)}")
        return 128 + exc.signum
    except KeyboardInterrupt:
        _say(f"interrupted; {_left_behind(args)}")
        return 130
    except BrokenPipeError:  # stdout closed early (| head): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:  # the system refused: disk full, no permission, ...
        _say(f"error: {exc.strerror or exc}"
             f"{': ' + str(exc.filename) if exc.filename else ''}")
        return 1
    except MemoryError:
        _say("error: out of memory: use shorter files or fewer --levels")
        return 1
    except Exception as exc:  # an internal error: report it on one line, with its type
        _say(f"internal error: {type(exc).__name__}: {exc}")
        return 1


def _say(message: str) -> None:
    """One line on stderr: control characters (a newline in a file name) are escaped."""
    print(f"{PROG}: {_escaped(message)}", file=sys.stderr)


def _escaped(message: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in message)


@contextmanager
def _stopping_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the command as Ctrl-C does (`Terminated`): temporary files
    and folders are removed and child processes stopped on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _: object) -> None:
        raise Terminated(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _preload_models() -> None:
    """Import scikit-learn in the background while audio is read and analysed."""
    def target() -> None:
        import sklearn.mixture
        import sklearn.neighbors  # noqa: F401

    threading.Thread(target=target, daemon=True).start()


def _run(args: argparse.Namespace) -> int:
    from .files import transfer_files

    if len(args.content) > 1:
        return _run_batch(args)
    if args.workers is not None or args.scheduler is not None:
        raise ParameterError("--workers and --scheduler style several contents side by side: "
                             "name more than one CONTENT")
    _preload_models()
    started = time.perf_counter()
    stages = (*STAGES, *(["drawing"] if args.plot is not None else []))
    with StageBar(stages, enabled=not args.quiet) as bar:
        result = transfer_files(args.content[0], args.style, args.output, preset=args.preset,
                                options=settings_options(args), subtype=args.subtype,
                                force=args.force, save_plan=args.save_plan, progress=bar,
                                engine=args.engine, keep_score=args.keep_score,
                                plot=args.plot, measure=args.measure,
                                block_seconds=args.block_seconds)
    elapsed = time.perf_counter() - started
    if not args.quiet:
        plan = result.plan
        note = ("" if result.gain == 1.0
                else f", normalised by {20 * math.log10(result.gain):.1f} dB")
        print(f"{PROG}: {plan.mode}, {plan.duration:.1f} s of audio in {elapsed:.1f} s "
              f"({plan.duration / elapsed:.0f}x real time){note}", file=sys.stderr)
    print(result.output)
    return 0


def _run_batch(args: argparse.Namespace) -> int:
    from .batch import BatchResult, run_batch
    from .cluster import open_runner

    for flag, value in (("--save-plan", args.save_plan), ("--keep-score", args.keep_score),
                        ("--plot", args.plot)):
        if value is not None:
            raise ParameterError(f"{flag} names one file or folder: style the contents one "
                                 "at a time to keep it")
    if args.measure:
        raise ParameterError("--measure goes with --plot, which names one file: style the "
                             "contents one at a time to draw them")
    started = time.perf_counter()
    with CountBar("styling", enabled=not args.quiet) as bar:

        def done(result: BatchResult) -> None:
            bar.done(failed=result.error is not None)
            if result.error is not None:
                bar.write(f"{PROG}: error: {_escaped(result.error)}")
            else:
                print(result.output, flush=True)

        with open_runner(jobs=args.jobs, workers=args.workers,
                         scheduler=args.scheduler) as runner:
            bar.start(len(args.content))
            results = run_batch(args.content, args.style, args.output, runner=runner,
                                preset=args.preset, options=settings_options(args),
                                subtype=args.subtype, force=args.force, engine=args.engine,
                                block_seconds=args.block_seconds, done=done)
    failed = [r for r in results if r.error is not None]
    elapsed = time.perf_counter() - started
    styled = len(results) - len(failed)
    seconds = sum(r.seconds for r in results if r.error is None)
    if failed:
        _say(f"error: {len(failed)} of {len(results)} contents failed (each named above); "
             f"{styled} styled")
    elif not args.quiet:
        print(f"{PROG}: styled {styled} contents ({_duration(seconds)} of audio) in "
              f"{elapsed:.1f} s ({seconds / elapsed:.0f}x real time)", file=sys.stderr)
    return 1 if failed else 0


def _learn(args: argparse.Namespace) -> int:
    from .cluster import open_runner
    from .corpus import Skipped
    from .files import learn_files

    started = time.perf_counter()
    keep = "embed" if args.embed_audio else "none" if args.no_audio else "index"
    with open_runner(jobs=args.jobs, workers=args.workers, scheduler=args.scheduler) as runner, \
            CountBar("reading", enabled=not args.quiet) as bar:
        model, skipped = learn_files(
            args.styles, args.output, options=settings_options(args), sr=args.sr, keep=keep,
            strict=args.strict, force=args.force, runner=runner, on_files=bar.start,
            on_file=lambda result: bar.done(failed=isinstance(result, Skipped)),
            on_pass=lambda stage: bar.describe(f"fitting: {stage}"))
    for item in skipped:
        _say(f"warning: {item.reason}: skipped")
    if skipped:
        _say(f"warning: skipped {len(skipped)} of {bar.finished} files")
    if not args.quiet:
        assert model.index_ is not None
        seconds = sum(e.samples / e.rate for e in model.index_.entries)
        elapsed = time.perf_counter() - started
        print(f"{PROG}: learnt {model.n_states_} states from {len(model.labels_)} frames of "
              f"{len(model.index_.entries)} files ({_duration(seconds)}) at {model.sr_} Hz "
              f"in {elapsed:.1f} s ({seconds / elapsed:.0f}x real time)", file=sys.stderr)
    print(args.output)
    return 0


def _duration(seconds: float) -> str:
    """``12.5 s``, ``3.2 min`` or ``8.3 h``.

    Examples
    --------
    >>> _duration(30000)
    '8.3 h'
    """
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def _presets(args: argparse.Namespace) -> int:
    presets = [load_preset(name) for name in builtin_presets()]
    width = max(len(p.name) for p in presets)
    for preset in presets:
        print(f"{preset.name:<{width}}  {preset.description}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_PRESETS, demo_picture, run_demo
    from .plot import plotting_available

    _preload_models()
    pictures = plotting_available()
    stages = (*STAGES, *(["drawing"] if pictures else [])) * len(DEMO_PRESETS)
    with StageBar(stages, enabled=not args.quiet) as bar:
        results = run_demo(args.output, force=args.force, progress=bar, pictures=pictures)
    print(f"content: {results[0].output.parent / 'content.wav'}")
    print(f"style:   {results[0].output.parent / 'style.wav'}")
    for result in results:
        print(f"styled:  {result.output}")
        if pictures:
            print(f"picture: {demo_picture(result.output)}")
    if not pictures and not args.quiet:
        from .plot import MISSING_MATPLOTLIB

        _say(f"no pictures drawn: {MISSING_MATPLOTLIB}")
    return 0


def _render(args: argparse.Namespace) -> int:
    from .files import render_plan_file

    started = time.perf_counter()
    result = render_plan_file(args.plan, args.output, engine=args.engine, subtype=args.subtype,
                              force=args.force, keep_score=args.keep_score,
                              content=args.content, styles=args.style,
                              block_seconds=args.block_seconds)
    if not args.quiet:
        elapsed = time.perf_counter() - started
        print(f"{PROG}: rendered {result.plan.duration:.1f} s with the {args.engine} engine "
              f"in {elapsed:.1f} s", file=sys.stderr)
    print(result.output)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_files, format_report

    if args.synth:
        from .synth_measures import evaluate_synth_files, format_synth_report

        if args.content is not None or args.truth is not None or args.plot is not None:
            raise ParameterError("--synth measures a synthesis: give --style and --output, "
                                 "not --content, --truth or --plot")
        metrics = evaluate_synth_files(args.style, args.output, reference=args.reference,
                                       plan=args.plan, other=args.other)
        return _print_metrics(metrics, as_json=args.json, report=format_synth_report)
    if args.content is None:
        raise ParameterError("--content is required (or measure a synthesis with --synth)")
    if args.reference or args.plan or args.other:
        raise ParameterError("--reference, --plan and --other go with --synth")
    if args.plot is not None:
        from .plot_measures import check_measures_picture, plot_measures_files

        inputs = (args.content, args.style, args.output, *([args.truth] if args.truth else []))
        check_measures_picture(args.plot, inputs=inputs, force=args.force)
    metrics = evaluate_files(args.content, args.style, args.output, truth=args.truth)
    if args.plot is not None:
        plot_measures_files(args.content, args.style, args.output, args.plot, truth=args.truth,
                            measures=metrics, force=args.force)
    return _print_metrics(metrics, as_json=args.json, report=format_report)


def _print_metrics(metrics: dict[str, float], *, as_json: bool,
                   report: Callable[[dict[str, float]], str]) -> int:
    """Print ``metrics`` as JSON (NaN as null) or as the ``report`` table; exit code 0."""
    import json

    if as_json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in metrics.items()},
                         indent=2))
    else:
        print(report(metrics))
    return 0


def _plot(args: argparse.Namespace) -> int:
    from .plot_files import plot_plan_file

    print(plot_plan_file(args.plan, args.png, content=args.content, styles=args.style,
                         output=args.audio, measure=args.measure, force=args.force))
    return 0


def _synth(args: argparse.Namespace) -> int:
    from .synth_files import STAGES as SYNTH_STAGES
    from .synth_files import synth_files
    from .synth_settings import synth_field_types

    _preload_models()
    started = time.perf_counter()
    options = {name: getattr(args, name, None) for name in
               ("clusters", "wavelet", "levels", "bands_per_octave", "seed")}
    synth_options = {name: getattr(args, name, None) for name in synth_field_types()}
    with StageBar(SYNTH_STAGES, enabled=not args.quiet) as bar:
        result = synth_files(args.styles, args.output, seconds=args.seconds,
                             preset=args.preset, options=options, synth_options=synth_options,
                             subtype=args.subtype, force=args.force, engine=args.engine,
                             save_plan=args.save_plan, plot=args.plot, stage=bar,
                             quiet=args.quiet)
    elapsed = time.perf_counter() - started
    if not args.quiet:
        note = ("" if result.gain == 1.0
                else f", normalised by {20 * math.log10(result.gain):.1f} dB")
        print(f"{PROG}: synthesised {result.seconds:.1f} s in {elapsed:.1f} s "
              f"({result.seconds / elapsed:.0f}x real time){note}", file=sys.stderr)
    print(result.output)
    return 0


def _live(args: argparse.Namespace) -> int:
    from .cli_live import live

    return live(args)


def _sc(args: argparse.Namespace) -> int:
    from .supercollider.compile import compile_synthdefs

    written = compile_synthdefs(args.sources or None, args.output)
    for path in written:
        print(path)
    return 0


_COMMANDS = {"run": _run, "learn": _learn, "presets": _presets, "demo": _demo, "synth": _synth,
             "render": _render, "evaluate": _evaluate, "plot": _plot, "live": _live, "sc": _sc}


if __name__ == "__main__":
    sys.exit(main())
