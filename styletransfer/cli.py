"""The ``styletransfer`` command: parses arguments and calls the library.

Exit codes: 0 success, 2 bad input (one line on stderr), 1 an internal error or a refusal
of the system (disk full, no permission), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from .analysis import BANDS_PER_OCTAVE, DEFAULT_WAVELET, supported_wavelets
from .errors import EngineError, InternalError, ParameterError, Terminated
from .presets import builtin_presets, load_preset
from .progress import CountBar, StageBar
from .settings import MODES, TARGETS, field_types
from .stream import BLOCK_SECONDS
from .transfer import ENGINES, STAGES

PROG = "styletransfer"


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise ParameterError(f"{message} (see '{self.prog} --help')")


_NUMBER = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|infinity|nan)"


def _integer(text: str) -> int:
    """An integer option: digits with an optional sign (no ``1_000``, no ``1e3``)."""
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    return int(text)


def _number(text: str) -> float:
    """A number option: decimal, optionally with an exponent, ``inf`` or ``nan`` (which the
    range checks then refuse with the option's range); no ``0_5``."""
    if not re.fullmatch(_NUMBER, text.strip(), flags=re.IGNORECASE):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    return float(text)


def _negative_words(argv: Sequence[str]) -> list[str]:
    """``--strength -inf`` as ``--strength=-inf``: argparse would take ``-inf`` for an option."""
    out: list[str] = []
    for arg in argv:
        if (out and arg.lower() in ("-inf", "-infinity", "-nan") and out[-1].startswith("--")
                and "=" not in out[-1]):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser with its subcommands."""
    parser = _Parser(prog=PROG, description="Music style transfer in the wavelet domain: keep "
                     "the content's melody, rhythm and dynamics, take the style's timbre.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = commands.add_parser("run", help="style a content track after a style track or corpus",
                              description="Style CONTENT after --style and write the result. "
                              "With several contents, each is styled into NAME.styled.wav in "
                              "the folder -o names (or next to it), side by side; one that "
                              "fails is reported and the others are done.")
    run.add_argument("content", metavar="CONTENT", nargs="+", help="content audio (WAV, "
                     "FLAC, OGG, AIFF, AU, MP3), one or several")
    run.add_argument("--style", "-s", metavar="STYLE", action="extend", nargs="+",
                     required=True, help="style audio file(s), or one style learnt with "
                     "'styletransfer learn' (.npz)")
    run.add_argument("-o", "--output", metavar="OUT", help="output .wav or .flac "
                     "(default: CONTENT.styled.wav next to the content); with several "
                     "contents, a folder")
    run.add_argument("--preset", metavar="NAME|PATH", help="named settings (see "
                     "'styletransfer presets'); options given here override it")
    _add_setting_options(run)
    run.add_argument("--mode", choices=MODES, default=None,
                     help="timbre: reshape the content's sound; mosaic: rebuild it from the "
                     "style's sound (default timbre)")
    run.add_argument("--strength", type=_number, metavar="0..1",
                     help="how far to move towards the style (default 0.8)")
    run.add_argument("--smoothing", type=_integer, metavar="FRAMES",
                     help="frames over which state choices are smoothed (default 5)")
    run.add_argument("--continuity", type=_number, metavar="COST",
                     help="mosaic: cost of jumping within the style (default 1.0)")
    run.add_argument("--envelope", type=_number, metavar="0..1",
                     help="mosaic: how closely bands follow the content's attacks (default 1)")
    run.add_argument("--shifts", type=_integer, metavar="K",
                     help="renderings on shifted transforms averaged against aliasing, 1-8 "
                     "(default 2 for timbre, 1 for mosaic; 1 is fastest)")
    run.add_argument("--max-boost-db", type=_number, metavar="DB",
                     help="largest boost any band may get, 0-60 dB (default 24)")
    run.add_argument("--pitch", type=_number, metavar="WEIGHT",
                     help="mosaic: weight of matching the content's pitch classes, 0-100 "
                     "(default 0; mosaic and melodic use 4)")
    run.add_argument("--transpose", type=_integer, metavar="SEMITONES",
                     help="mosaic: also play the style transposed by up to this many "
                     "semitones, 0-6 (default 0; melodic uses 2)")
    run.add_argument("--onset-jumps", type=_number, metavar="0..1",
                     help="mosaic: how much cheaper jumps in the style are at the content's "
                     "attacks (default 0; mosaic and melodic use 0.9)")
    run.add_argument("--targets", choices=TARGETS, default=None,
                     help="timbre: take the band shapes of the style's states (states), or "
                     "of the style frames a mosaic would play there (frames; the "
                     "instrument preset) (default states)")
    run.add_argument("--guard-db", type=_number, metavar="DB",
                     help="octave share of a frame (dB) from which bands may be boosted in "
                     "full, -90 to 0 (default -30; instrument uses -50)")
    run.add_argument("--engine", choices=ENGINES, default="numpy",
                     help="resynthesis engine: numpy (inverse wavelet transform) or sc "
                     "(SuperCollider, rendered offline by scsynth) (default numpy)")
    run.add_argument("--keep-score", metavar="DIR", help="with --engine sc: keep the score "
                     "(score.osc), the audio it reads and render.sh in DIR")
    run.add_argument("--subtype", default="24", metavar="16|24|float",
                     help="output sample format (default 24; FLAC holds 16 or 24)")
    run.add_argument("--save-plan", metavar="PLAN.npz", help="also save the render plan")
    run.add_argument("--plot", metavar="OUT.png", help="also draw what the run did (needs "
                     "matplotlib: the plot extra)")
    run.add_argument("--measure", action="store_true", help="with --plot: the evaluate "
                     "measures in the picture's title (as slow as evaluate itself)")
    _add_runner_options(run, what="contents styled")
    _add_block_option(run, plot=True)
    run.add_argument("--force", action="store_true", help="overwrite existing output files")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")

    learn = commands.add_parser("learn", help="learn a style once and save it as .npz",
                                description="Learn a style from audio files and folders "
                                "(searched recursively for audio), as many as a corpus holds. "
                                "Files that cannot be read are skipped with a warning.")
    learn.add_argument("styles", metavar="STYLE", nargs="+", help="style audio files or "
                       "folders")
    learn.add_argument("-o", "--output", metavar="STYLE.npz", required=True,
                       help="where to save the learnt style")
    _add_setting_options(learn)
    learn.add_argument("--sr", type=_integer, help="sample rate to learn at (default: the first "
                       "file's)")
    kept = learn.add_mutually_exclusive_group()
    kept.add_argument("--embed-audio", action="store_true", help="keep copies of the audio "
                      "in the model (self-contained, as large as the audio) instead of an "
                      "index of the files")
    kept.add_argument("--no-audio", action="store_true", help="keep only the statistics: no "
                      "index of the files, so no mosaic mode and no re-learning")
    learn.add_argument("--strict", action="store_true", help="stop at the first file that "
                       "cannot be learnt from, instead of skipping it")
    _add_runner_options(learn)
    learn.add_argument("--force", action="store_true", help="overwrite an existing file")
    learn.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")

    commands.add_parser("presets", help="list the presets with a description each")

    synth = commands.add_parser(
        "synth", help="new audio of any length in the style of STYLE",
        description="Synthesise --seconds of new audio in the style of STYLE (audio files "
        "or a learnt .npz that holds its audio): a walk over the style's frames that never "
        "plays more than --max-copy seconds of it in a row.")
    synth.add_argument("styles", metavar="STYLE", nargs="+", help="style audio file(s), or "
                       "one style learnt with 'styletransfer learn' (.npz, with its audio)")
    synth.add_argument("-o", "--output", metavar="OUT", required=True,
                       help="output .wav or .flac")
    synth.add_argument("--seconds", type=_number, required=True, metavar="N",
                       help="length of the output in seconds")
    synth.add_argument("--preset", metavar="NAME|PATH", help="a synthesis preset (texture, "
                       "variations, granular; see 'styletransfer presets')")
    _add_setting_options(synth)
    _add_synth_options(synth)
    synth.add_argument("--engine", choices=ENGINES, default="numpy",
                       help="numpy (in chunks, any length) or sc (SuperCollider offline, "
                       "rendered whole) (default numpy)")
    synth.add_argument("--subtype", default="24", metavar="16|24|float",
                       help="output sample format (default 24)")
    synth.add_argument("--save-plan", metavar="PLAN.npz", help="also save the render plan")
    synth.add_argument("--plot", metavar="OUT.png", help="also draw what the synthesis played "
                       "(needs matplotlib: the plot extra)")
    synth.add_argument("--force", action="store_true", help="overwrite existing output files")
    synth.add_argument("--quiet", "-q", action="store_true", help="no progress and no summary")

    render = commands.add_parser("render", help="render a saved plan (run --save-plan)",
                                 description="Render PLAN again, with either engine, from the "
                                 "audio files it names.")
    render.add_argument("plan", metavar="PLAN.npz", help="a plan saved with run --save-plan")
    render.add_argument("-o", "--output", metavar="OUT", required=True,
                        help="output .wav or .flac")
    render.add_argument("--engine", choices=ENGINES, default="numpy",
                        help="resynthesis engine (default numpy)")
    render.add_argument("--content", metavar="CONTENT", help="the content audio, if it moved")
    render.add_argument("--style", "-s", metavar="STYLE", action="extend", nargs="+",
                        help="the style audio (mosaic plans), if it moved")
    render.add_argument("--keep-score", metavar="DIR", help="with --engine sc: keep the score "
                        "and the audio it reads in DIR")
    render.add_argument("--subtype", default="24", metavar="16|24|float",
                        help="output sample format (default 24)")
    render.add_argument("--force", action="store_true", help="overwrite an existing output")
    _add_block_option(render)
    render.add_argument("--quiet", "-q", action="store_true", help="no summary")

    evaluate = commands.add_parser(
        "evaluate", help="measure a result: style taken on, content kept, sanity",
        description="Compare OUTPUT with the CONTENT and STYLE it was made from (and a "
        "ground TRUTH if there is one): style_gain (1: as close to the style as the style "
        "itself, 0: no closer than the content), content kept, and sanity checks.")
    evaluate.add_argument("--content", "-c", metavar="CONTENT",
                          help="the content (not with --synth)")
    evaluate.add_argument("--style", "-s", metavar="STYLE", required=True)
    evaluate.add_argument("--output", "-o", metavar="OUTPUT", required=True,
                          help="the result to measure")
    evaluate.add_argument("--truth", "-t", metavar="TRUTH", help="the content played with "
                          "the style's instrument, for mel-cepstral distortion")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.add_argument("--synth", action="store_true", help="measure a synthesis instead: "
                          "texture statistics against the style, copying, state statistics")
    evaluate.add_argument("--reference", metavar="AUDIO", help="with --synth: held-back "
                          "audio of the style to compare with (the statistics' normaliser "
                          "is then its distance to STYLE)")
    evaluate.add_argument("--plan", metavar="PLAN.npz", help="with --synth: the plan, for "
                          "its runs of consecutive style frames")
    evaluate.add_argument("--other", metavar="OUTPUT2", help="with --synth: a second "
                          "output (another seed), for their correlation")
    evaluate.add_argument("--plot", metavar="OUT.png", help="also draw the measures' features: "
                          "onset envelopes, chroma, MFCC distributions")
    evaluate.add_argument("--force", action="store_true", help="overwrite an existing --plot")

    plot = commands.add_parser("plot", help="draw what a saved plan did, as a PNG",
                               description="Draw PLAN (run --save-plan) with the audio it "
                               "names: scalograms of content, style and output, the style "
                               "states, band gains and, for mosaics, where in the style each "
                               "frame came from.")
    plot.add_argument("plan", metavar="PLAN.npz", help="a plan saved with run --save-plan")
    plot.add_argument("-o", dest="png", metavar="OUT.png", required=True, help="the picture")
    plot.add_argument("--content", metavar="CONTENT", help="the content audio, if it moved")
    plot.add_argument("--style", "-s", metavar="STYLE", action="extend", nargs="+",
                      help="the style audio, if it moved")
    plot.add_argument("--output", dest="audio", metavar="OUTPUT", help="the plan's rendered "
                      "output (default: render it here with the numpy engine)")
    plot.add_argument("--measure", action="store_true", help="the evaluate measures in the "
                      "title")
    plot.add_argument("--force", action="store_true", help="overwrite an existing picture")

    live = commands.add_parser(
        "live", help="play a styled track, style a live input, or synthesise endlessly, on a "
        "SuperCollider server",
        description="Stream CONTENT styled after --style to scsynth as timed OSC bundles, "
        "with --input style the server's live input, or with --synth play new sound in "
        "the style until stopped (or for --seconds). Stop with Ctrl-C.")
    live.add_argument("content", metavar="CONTENT", nargs="?", help="content audio (not "
                      "with --input or --synth)")
    live.add_argument("--style", "-s", metavar="STYLE", action="append", nargs="+",
                      required=True, help="style audio file(s) or a learnt .npz; give "
                      "--style again for another style to switch to (/st/style 1, ...)")
    where = live.add_mutually_exclusive_group(required=True)
    where.add_argument("--server", metavar="HOST:PORT", help="a running scsynth")
    where.add_argument("--boot", action="store_true", help="start scsynth here (with a dummy "
                       "JACK server where there is no audio device) and stop it at the end")
    live.add_argument("--latency", type=_number, default=0.2, metavar="SECONDS",
                      help="how far ahead bundles are sent (default 0.2)")
    live.add_argument("--record", metavar="OUT.wav", help="record the server's output")
    live.add_argument("--input", action="store_true", help="style the live input instead of "
                      "CONTENT: the server analyses it and gets band gains back every frame")
    live.add_argument("--input-file", metavar="FILE", help="with --input: play FILE as the "
                      "input (rehearse without an audio interface)")
    live.add_argument("--synth", action="store_true", help="play new sound in the style, "
                      "endlessly: a synthesis as 'styletransfer synth' makes it, made as it "
                      "plays (synthesis options and presets as for synth)")
    live.add_argument("--seconds", type=_number, help="with --input or --synth: stop after "
                      "this long")
    live.add_argument("--sr", type=_integer, default=48000, help="with --input: sample rate the "
                      "style is learnt at; the server's rate (default 48000)")
    live.add_argument("--control-port", type=_integer, metavar="PORT", help="listen for "
                      "control messages (/st/strength, /st/mix, /st/freeze, /st/style, "
                      "/st/mode, /st/stop: see sc/README.md) on this UDP port, e.g. 57130 "
                      "(0: any free one)")
    live.add_argument("--control-host", metavar="HOST", help="with --control-port: the "
                      "address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 "
                      "opens it to the network)")
    live.add_argument("--switch-modes", action="store_true", help="plan both modes, so that "
                      "/st/mode can switch between them (the --mode given plays first)")
    live.add_argument("--preset", metavar="NAME|PATH", help="named settings (see presets)")
    _add_setting_options(live)
    live.add_argument("--mode", choices=MODES, default=None, help="timbre or mosaic")
    live.add_argument("--strength", type=_number, metavar="0..1", help="default 0.8")
    live.add_argument("--force", action="store_true", help="overwrite an existing recording")
    _add_synth_options(live)
    live.add_argument("--quiet", "-q", action="store_true", help="no summary")

    sc = commands.add_parser("sc", help="SuperCollider tools: compile the SynthDefs",
                             description="SuperCollider tools.")
    sc_commands = sc.add_subparsers(dest="sc_command", metavar="SC_COMMAND",
                                    parser_class=_Parser, required=True)
    compile_defs = sc_commands.add_parser(
        "compile", help="compile the SynthDefs with sclang (headless)",
        description="Compile SynthDef sources (.scd, one SynthDef each) with sclang into "
        ".scsyndef files. Without arguments: the package's own, in place.")
    compile_defs.add_argument("sources", metavar="SOURCE.scd", nargs="*",
                              help="SynthDef sources (default: the package's sc/st_*.scd)")
    compile_defs.add_argument("--output", "-o", metavar="DIR",
                              help="folder for the .scsyndef files (default: next to the "
                              "package's sources)")

    demo = commands.add_parser("demo", help="make example clips and style them",
                               description="Synthesise a content and a style clip and style "
                               "the content with the 'balanced' and 'mosaic' presets.")
    demo.add_argument("-o", "--output", default="demo-output", metavar="DIR",
                      help="folder for the clips (default demo-output)")
    demo.add_argument("--force", action="store_true", help="overwrite earlier demo files")
    demo.add_argument("--quiet", "-q", action="store_true", help="no progress")
    return parser


def _add_runner_options(parser: argparse.ArgumentParser, *, what: str = "files read") -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", "-j", type=_integer, metavar="N",
                       help=f"{what} at once on this machine (default: the number of cores)")
    where.add_argument("--workers", type=_integer, metavar="N",
                       help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on the Dask cluster whose scheduler is at ADDRESS "
                       "(e.g. tcp://10.0.0.5:8786); every worker must see the files at the "
                       "same paths")


def _add_block_option(parser: argparse.ArgumentParser, *, plot: bool = False) -> None:
    parser.add_argument("--block-seconds", type=_number, metavar="SECONDS",
                        help="read and render the content in blocks this long; "
                        "memory grows with it, not with the content, and the result is the "
                        f"same (default {BLOCK_SECONDS:g}"
                        + ("; not with --plot, which reads the content whole)" if plot
                           else ")"))


def _add_synth_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--continuity", type=_number, metavar="0..1", help="chance of "
                       "following the style to its next frame rather than jumping "
                       "(default 0.9)")
    parser.add_argument("--max-copy", type=_number, metavar="SECONDS",
                       help="longest run of the style played verbatim (default 0.25)")
    parser.add_argument("--context", type=_number, metavar="SECONDS",
                       help="how far back a jump matches the output's past (default 1.5)")
    parser.add_argument("--candidates", type=_integer, metavar="K",
                       help="jump targets weighed at each jump, 1-64 (default 8)")
    parser.add_argument("--min-jump", type=_number, metavar="SECONDS",
                       help="shortest jump within the style (default 0.5)")
    parser.add_argument("--recent", type=_number, metavar="SECONDS",
                       help="seconds during which what was played is avoided (default 2)")
    parser.add_argument("--states", type=_number, metavar="WEIGHT",
                       help="weight of the style's state transitions in jumps (default 0)")
    parser.add_argument("--balance", type=_number, metavar="0..1",
                       help="how strongly band levels are held to the style's (default 0.5)")


def _add_setting_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--clusters", "-k", type=_integer, metavar="K",
                        help="number of style states (default 8)")
    parser.add_argument("--wavelet", metavar="NAME",
                        help=f"discrete wavelet (default {DEFAULT_WAVELET}; "
                        f"{len(supported_wavelets())} "
                        "available, e.g. db4, sym8, coif3)")
    parser.add_argument("--levels", type=_integer, metavar="N",
                        help="wavelet depth, octave bands = N + 1 (default: lowest band near "
                        "86 Hz)")
    parser.add_argument("--bands-per-octave", type=_integer, choices=BANDS_PER_OCTAVE, metavar="B",
                        help="split each octave band into B wavelet-packet bands: 1, 2, 4 "
                        "or 8 (default 1; the fine preset uses 4)")
    parser.add_argument("--seed", type=_integer, help="random seed (default 0)")


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


def _main(argv: Sequence[str] | None) -> int:
    """`main` without the signal handlers: runs the command, and turns errors into exit
    codes and one line each."""
    try:
        args = build_parser().parse_args(_negative_words(
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
        _say(f"stopped by {signal.Signals(exc.signum).name}; no output was written")
        return 128 + exc.signum
    except KeyboardInterrupt:
        _say("interrupted; no output was written")
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


def _settings_options(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name, None) for name in field_types()}


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
                                options=_settings_options(args), subtype=args.subtype,
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
                                preset=args.preset, options=_settings_options(args),
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
            args.styles, args.output, options=_settings_options(args), sr=args.sr, keep=keep,
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
    import json

    from .evaluate import evaluate_files, format_report

    if args.synth:
        from .synth_measures import evaluate_synth_files, format_synth_report

        if args.content is not None or args.truth is not None or args.plot is not None:
            raise ParameterError("--synth measures a synthesis: give --style and --output, "
                                 "not --content, --truth or --plot")
        metrics = evaluate_synth_files(args.style, args.output, reference=args.reference,
                                       plan=args.plan, other=args.other)
        if args.json:
            print(json.dumps({k: (None if math.isnan(v) else v) for k, v in metrics.items()},
                             indent=2))
        else:
            print(format_synth_report(metrics))
        return 0
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
    if args.json:
        print(json.dumps({k: (None if math.isnan(v) else v) for k, v in metrics.items()},
                         indent=2))
    else:
        print(format_report(metrics))
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
        print(f"{PROG}: {report.frames} input frames styled; analysis-to-parameter "
              f"latency p50 {report.percentile_ms(report.loop_seconds, 50):.2f} ms, "
              f"p99 {report.percentile_ms(report.loop_seconds, 99):.2f} ms"
              f"{_late(report.late)}{_safety(report)}{_stopped(report)}", file=sys.stderr)
    return 0


def _live_stream(args: argparse.Namespace, control: Any) -> int:
    from .files import live_set_files
    from .supercollider.live import stream_set

    _preload_models()
    live = live_set_files(args.content, args.style, preset=args.preset,
                          options=_settings_options(args), switch_modes=args.switch_modes)
    plan = live.first

    def note(sent: int, total: int) -> None:
        if not args.quiet and sys.stderr.isatty():
            print(f"\r{PROG}: {sent}/{total} frames", end="", file=sys.stderr, flush=True)

    report = stream_set(live, server=args.server, boot=args.boot, latency=args.latency,
                        record=args.record, on_frame=note, control=control)
    if not args.quiet:
        played = "until /st/stop" if report.stopped else f"{plan.duration:.1f} s"
        print(f"{'' if not sys.stderr.isatty() else chr(13)}{PROG}: played {played}"
              f" ({report.frames} frames sent); Python time per frame p50 "
              f"{report.percentile_ms(report.send_seconds, 50):.3f} ms, p99 "
              f"{report.percentile_ms(report.send_seconds, 99):.3f} ms"
              f"{_late(report.late, 'late frames')}{_safety(report)}{_stopped(report)}",
              file=sys.stderr)
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
                            options=_settings_options(args),
                            synth_options={name: getattr(args, name, None)
                                           for name in synth_field_types()})
    report = play_synth(live, server=args.server, boot=args.boot, latency=args.latency,
                        record=args.record, control=control)
    if not args.quiet:
        played = report.frames * live.first.frame_seconds
        how = " until Ctrl-C" if report.interrupted else \
            " until /st/stop" if report.stopped else ""
        print(f"{PROG}: synthesised and played about {played:.1f} s{how} ({report.frames} "
              f"frames sent); Python time per frame p50 "
              f"{report.percentile_ms(report.send_seconds, 50):.3f} ms, p99 "
              f"{report.percentile_ms(report.send_seconds, 99):.3f} ms"
              f"{_late(report.late, 'late frames')}{_safety(report)}{_stopped(report)}",
              file=sys.stderr)
    if args.record:
        print(args.record)
    return 0


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
    settings = settings.updated(_settings_options(args)).checked()
    tracks = [audio.load(path) for path in style]
    return learn(tracks, sr=args.sr, n_channels=1, settings=settings,
                 names=list(style))


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
