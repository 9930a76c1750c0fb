"""The ``styletransfer`` command's parser: its subcommands, their options and the types
that read them (numbers checked as they are parsed, negative numbers as values).

Examples
--------
>>> build_parser().parse_args(["run", "a.wav", "--style", "b.wav"]).command
'run'
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any, NoReturn

from . import __version__
from .analysis import BANDS_PER_OCTAVE, DEFAULT_WAVELET, supported_wavelets
from .errors import ParameterError
from .settings import MODES, TARGETS, field_types
from .stream import BLOCK_SECONDS
from .transfer import ENGINES

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


def negative_words(argv: Sequence[str]) -> list[str]:
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
                     help="timbre: take the band shapes of the style's states (states), "
                     "of the style frames a mosaic would play there (frames), or of the "
                     "style frames nearest in pitch (pitch; the instrument preset) "
                     "(default states)")
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


def settings_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `Settings` fields given on the command line (None: not given)."""
    return {name: getattr(args, name, None) for name in field_types()}
