"""Hostile and broken input on the command line: exit 2 with one line naming the problem
(1 when the system refuses), never a hang, never a partial or replaced file, never a
non-finite or constant (DC) output, and signals handled like Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR
from sc_support import require_scsynth

from styletransfer.cli import main

CLI = [sys.executable, "-m", "styletransfer"]
#: Every command run here fails on a RuntimeWarning (numpy's "invalid value", say).
QUIET_ENV = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}


def cli(args: list[object], *, timeout: float = 60, cwd: Path | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=QUIET_ENV, check=False)


def one_line(text: str) -> bool:
    return len(text.strip().splitlines()) == 1


def left_over(folder: Path, before: set[str]) -> set[str]:
    return {p.name for p in folder.iterdir()} - before


def sound_or_absent(path: Path) -> None:
    """The promise for every output: no file, or finite audio that is not constant."""
    if path.exists():
        y, _ = sf.read(path, always_2d=True)
        assert np.all(np.isfinite(y)) and np.ptp(y) > 0, path


@pytest.fixture(scope="module")
def model_and_plan(tmp_path_factory: pytest.TempPathFactory, content_audio: np.ndarray,
                   style_audio: np.ndarray) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("made")
    content, style = folder / "content.wav", folder / "style.wav"
    sf.write(content, content_audio.T, SR, subtype="PCM_16")
    sf.write(style, style_audio.T, SR, subtype="PCM_16")
    assert main(["learn", str(style), "-o", str(folder / "good.npz"), "-k", "4", "-q"]) == 0
    assert main(["run", str(content), "--style", str(style), "-o", str(folder / "o.wav"),
                 "--save-plan", str(folder / "plan.npz"), "-k", "4", "-q"]) == 0
    return {"model": folder / "good.npz", "plan": folder / "plan.npz", "content": content,
            "style": style}


def edited(source: Path, target: Path, key: str, factor: float) -> Path:
    data = dict(np.load(source))
    data[key] = data[key] * factor
    np.savez(target, **data)
    return target


# 1. Non-finite results --------------------------------------------------------------------

@pytest.mark.parametrize("case", ["nan model", "nan plan", "inf plan"])
def test_non_finite_models_and_plans_are_refused(case: str, model_and_plan: dict[str, Path],
                                                 clips: dict[str, Path]) -> None:
    out = clips["dir"] / "out.wav"
    if case == "nan model":
        bad = edited(model_and_plan["model"], clips["dir"] / "nan.npz", "shape_mean", np.nan)
        done = cli(["run", clips["content"], "--style", bad, "-o", out])
    else:
        factor = np.nan if case == "nan plan" else np.inf
        bad = edited(model_and_plan["plan"], clips["dir"] / "bad.npz", "gains", factor)
        done = cli(["render", bad, "-o", out])
    assert done.returncode == 2 and one_line(done.stderr), done.stderr
    assert "NaN or infinite" in done.stderr and str(bad) in done.stderr
    assert not out.exists()


@pytest.mark.parametrize("scale", [1e-30, 1e20, 3e-45])
@pytest.mark.parametrize("mode", ["timbre", "mosaic"])
def test_tiny_and_huge_float_content_is_styled(scale: float, mode: str,
                                               content_audio: np.ndarray,
                                               clips: dict[str, Path]) -> None:
    """Legal float files far below or above full scale (3e-45: subnormal) are styled like
    any other: a finite, sounding result at the content's level (peak-limited if loud)."""
    content = clips["dir"] / "scaled.wav"
    sf.write(content, (content_audio * scale).astype(np.float32).T, SR, subtype="FLOAT")
    out = clips["dir"] / "out.wav"
    done = cli(["run", content, "--style", clips["style"], "-o", out, "--mode", mode,
                "--subtype", "float", "-q"])
    assert done.returncode == 0, done.stderr
    y, _ = sf.read(out, always_2d=True)
    assert np.all(np.isfinite(y)) and np.ptp(y) > 0
    peak = np.abs(y).max()
    assert (peak <= 10 ** (-1 / 20) + 1e-6) if scale > 1 else (peak < 1000 * scale)


def test_result_below_the_output_resolution_is_refused(content_audio: np.ndarray,
                                                       clips: dict[str, Path]) -> None:
    content = clips["dir"] / "tiny.wav"
    sf.write(content, (content_audio * 1e-30).astype(np.float32).T, SR, subtype="FLOAT")
    out = clips["dir"] / "out.wav"
    done = cli(["run", content, "--style", clips["style"], "-o", out])
    assert done.returncode == 2 and one_line(done.stderr), done.stderr
    assert "--subtype float" in done.stderr and not out.exists()


@pytest.mark.parametrize("fault", [np.nan, np.inf, "dc"])
def test_a_faulty_result_is_never_written(fault: object, clips: dict[str, Path],
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Should the engine ever produce NaN, inf or a constant: exit 1, nothing written."""
    import styletransfer.stream_render as stream_render

    def broken(signal, plan, frames, margin, count, unshifted=None):  # type: ignore[no-untyped-def]
        y = np.full((plan.n_channels, count * plan.hop), 0.5, dtype=np.float32)
        if fault != "dc":
            y[:, ::3] = fault
        return y

    monkeypatch.setattr(stream_render, "render_timbre_block", broken)  # every block of the render
    out = clips["dir"] / "out.wav"
    before = {p.name for p in clips["dir"].iterdir()}
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(out), "-q"]) == 1
    err = capsys.readouterr().err
    assert "internal error" in err and "nothing was written" in err and one_line(err)
    assert left_over(clips["dir"], before) == set()


def test_no_command_writes_non_finite_or_constant_audio(model_and_plan: dict[str, Path],
                                                        content_audio: np.ndarray,
                                                        clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    nan_model = edited(model_and_plan["model"], folder / "nan.npz", "shape_mean", np.nan)
    nan_plan = edited(model_and_plan["plan"], folder / "nanplan.npz", "gains", np.nan)
    inf_plan = edited(model_and_plan["plan"], folder / "infplan.npz", "gains", np.inf)
    zero_plan = edited(model_and_plan["plan"], folder / "zeroplan.npz", "gains", 0.0)
    tiny, huge = folder / "tiny.wav", folder / "huge.wav"
    sf.write(tiny, (content_audio * 1e-30).astype(np.float32).T, SR, subtype="FLOAT")
    sf.write(huge, (content_audio * 1e20).astype(np.float32).T, SR, subtype="FLOAT")
    runs = [
        ["run", clips["content"], "--style", nan_model],
        ["render", nan_plan], ["render", inf_plan], ["render", zero_plan],
        ["run", tiny, "--style", clips["style"]], ["run", huge, "--style", clips["style"]],
        ["run", tiny, "--style", clips["style"], "--subtype", "float", "--mode", "mosaic"],
    ]
    for index, args in enumerate(runs):
        out = folder / f"out{index}.wav"
        done = cli([*args, "-o", out])
        assert done.returncode in (0, 1, 2), done.stderr
        sound_or_absent(out)


# 4. Named pipes and devices ------------------------------------------------------------

@pytest.mark.parametrize("where", ["content", "style", "learn", "evaluate", "plan source",
                                   "preset", "model", "device", "input file"])
def test_pipes_and_devices_are_refused_at_once(where: str, model_and_plan: dict[str, Path],
                                               clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    fifo = folder / ("f.toml" if where == "preset" else "f.npz" if where == "model"
                     else "f.wav")
    os.mkfifo(fifo)
    out = folder / "o.wav"
    content, style = clips["content"], clips["style"]
    commands = {
        "content": ["run", fifo, "--style", style, "-o", out],
        "style": ["run", content, "--style", fifo, "-o", out],
        "learn": ["learn", fifo, "-o", folder / "m.npz"],
        "evaluate": ["evaluate", "--content", content, "--style", style, "--output", fifo],
        "preset": ["run", content, "--style", style, "-o", out, "--preset", fifo],
        "model": ["run", content, "--style", fifo, "-o", out],
        "device": ["run", "/dev/zero", "--style", style, "-o", out],
        "input file": ["live", "--input", "--input-file", fifo, "--style", style,
                       "--server", "127.0.0.1:9"],
    }
    if where == "plan source":
        data = dict(np.load(model_and_plan["plan"]))
        meta = json.loads(str(data["meta"]))
        meta["sources"]["content"] = str(fifo)
        data["meta"] = np.array(json.dumps(meta))
        np.savez(folder / "p.npz", **data)
        commands[where] = ["render", folder / "p.npz", "-o", out]
    done = cli(commands[where], timeout=30)
    assert done.returncode == 2 and one_line(done.stderr), done.stderr
    assert ("named pipe" in done.stderr or "device" in done.stderr), done.stderr
    assert not out.exists()


# 5. Sample rates ------------------------------------------------------------------------

def _wav_claiming(path: Path, rate: int, y: np.ndarray) -> Path:
    """A 16-bit WAV whose header claims ``rate`` (and the byte rate that goes with it)."""
    sf.write(path, y.T, SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    fmt = data.index(b"fmt ")
    channels = int.from_bytes(data[fmt + 10: fmt + 12], "little")
    data[fmt + 12: fmt + 16] = rate.to_bytes(4, "little")
    data[fmt + 16: fmt + 20] = (rate * 2 * channels).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rate", [1, 999, 10_000_000])
def test_absurd_sample_rates_are_refused(rate: int, content_audio: np.ndarray,
                                         clips: dict[str, Path]) -> None:
    bad = _wav_claiming(clips["dir"] / "rate.wav", rate, content_audio)
    for args in (["run", bad, "--style", clips["style"], "-o", clips["dir"] / "o.wav"],
                 ["run", clips["content"], "--style", bad, "-o", clips["dir"] / "o.wav"],
                 ["learn", bad, "-o", clips["dir"] / "m.npz"]):
        done = cli(args)
        assert done.returncode == 2 and one_line(done.stderr), done.stderr
        assert f"sample rate of {rate} Hz is out of range" in done.stderr


# 6. Numbers -----------------------------------------------------------------------------

HUGE = "9" * 400


@pytest.mark.parametrize(("args", "words"), [
    (["--clusters", HUGE], "--clusters 999999999999...999999 (400 characters) is out of range"),
    (["--seed", HUGE], "--seed 999999999999"),
    (["--levels", HUGE], "--levels 999999999999"),
    (["--seed", "99999999999"], "use a value from 0 to 4294967295"),
    (["--strength", "0_5"], "'0_5' is not a number"),
    (["--clusters", "1_0"], "'1_0' is not an integer"),
    (["--strength", "-inf"], "--strength -inf is out of range: use a value from 0 to 1"),
    (["--strength", "nan"], "--strength nan is out of range"),
    (["--strength", "1e400"], "--strength inf is out of range"),
])
def test_numbers_are_range_errors(args: list[str], words: str, clips: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                     str(clips["dir"] / "o.wav")],
                    ["learn", str(clips["style"]), "-o", str(clips["dir"] / "m.npz")]):
        if command[0] == "learn" and args[0] == "--strength":
            continue
        assert main([*command, *args]) == 2
        err = capsys.readouterr().err
        assert words in err and one_line(err), err


@pytest.mark.parametrize(("body", "words"), [
    (f'description = "x"\nclusters = {HUGE}\n', "out of range"),
    ('description = "x"\nstrength = ' + "[" * 100_000 + "]" * 100_000 + "\n", "too large"),
    ('description = "x"\nstrength = ' + "[" * 5_000 + "]" * 5_000 + "\n",
     "nested too deeply"),
    ("description = 5\n", "key 'description' must be text"),
    ('description = "x"\nstrength = inf\n', "--strength inf is out of range"),
])
def test_bad_presets_are_range_errors(body: str, words: str, clips: dict[str, Path],
                                      capsys: pytest.CaptureFixture[str]) -> None:
    preset = clips["dir"] / "p.toml"
    preset.write_text(body)
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(clips["dir"] / "o.wav"), "--preset", str(preset)]) == 2
    err = capsys.readouterr().err
    assert words in err and str(preset) in err and one_line(err), err


# 7. Signals -----------------------------------------------------------------------------

#: Runs the command line, and sends this process SIGNAL while FUNCTION (module:name) runs.
SIGNAL_AT = """
import importlib, os, signal, sys, threading, time
module, name, sig = sys.argv[1], sys.argv[2], getattr(signal, sys.argv[3])
target = importlib.import_module(module)
original = getattr(target, name)
def patched(*args, **kwargs):
    threading.Timer(0.3, os.kill, (os.getpid(), sig)).start()
    result = original(*args, **kwargs)
    time.sleep(2.0)
    return result
setattr(target, name, patched)
from styletransfer.cli import main
sys.exit(main(sys.argv[4:]))
"""


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("job", ["run", "learn", "save-plan", "sc"])
def test_signals_at_the_write_phase_leave_nothing(sig: str, job: str, clips: dict[str, Path],
                                                  content_audio: np.ndarray) -> None:
    """SIGTERM or SIGHUP while the result is written (or scsynth renders): exit 128 + the
    signal's number, one line, no file left, no scsynth left, no temporary folder left."""
    if job == "sc":
        require_scsynth()
    folder = clips["dir"]
    out = folder / "out.wav"
    content, style = str(clips["content"]), str(clips["style"])
    where, args = {
        "run": ("styletransfer.stream_files:write_result", ["run", content, "--style",
                                                             style, "-o", str(out)]),
        "learn": ("styletransfer.model:save_archive", ["learn", style, "-o",
                                                        str(folder / "m.npz")]),
        "save-plan": ("styletransfer.plan:save_archive", ["run", content, "--style", style,
                                                           "-o", str(out), "--save-plan",
                                                           str(folder / "p.npz")]),
        "sc": ("subprocess:run", ["run", str(folder / "long.wav"), "--style", style, "-o",
                                  str(out), "--engine", "sc"]),
    }[job]
    if job == "sc":  # long enough that scsynth is still rendering when the signal comes
        sf.write(folder / "long.wav", np.tile(content_audio, 30).T, SR, subtype="PCM_16")
    module, name = where.split(":")
    before = {p.name for p in folder.iterdir()}
    temp_before = set(Path("/tmp").glob("st-nrt-*"))
    servers_before = _scsynths()
    done = subprocess.run([sys.executable, "-c", SIGNAL_AT, module, name, sig, *args],
                          capture_output=True, text=True, timeout=120, env=QUIET_ENV,
                          check=False)
    number = getattr(signal, sig)
    assert done.returncode == 128 + number, done.stderr
    assert f"stopped by {sig}" in done.stderr and one_line(done.stderr), done.stderr
    assert left_over(folder, before) == set()
    assert set(Path("/tmp").glob("st-nrt-*")) == temp_before
    assert _scsynths() <= servers_before


def _scsynths() -> set[str]:
    return set(subprocess.run(["pgrep", "-x", "scsynth"], capture_output=True, text=True,
                              check=False).stdout.split())


# 8. Outputs -----------------------------------------------------------------------------

def test_a_file_that_appears_during_the_run_is_kept(clips: dict[str, Path],
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    import styletransfer.stream_files as files

    out = clips["dir"] / "out.wav"
    original = files.write_result

    def meanwhile(*args, **kwargs):  # type: ignore[no-untyped-def]
        out.write_bytes(b"someone else's file")
        return original(*args, **kwargs)

    monkeypatch.setattr(files, "write_result", meanwhile)
    before = {p.name for p in clips["dir"].iterdir()}
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert "appeared while this run worked" in err and one_line(err)
    assert out.read_bytes() == b"someone else's file"
    assert left_over(clips["dir"], before) == {"out.wav"}


def test_two_runs_on_one_new_path_one_wins(clips: dict[str, Path]) -> None:
    out = clips["dir"] / "out.wav"
    args = [*CLI, "run", str(clips["content"]), "--style", str(clips["style"]), "-o",
            str(out), "-q"]
    runs = [subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=QUIET_ENV) for _ in range(2)]
    codes = sorted(run.wait(timeout=120) for run in runs)
    assert codes == [0, 2]
    sound_or_absent(out)
    assert [p.name for p in clips["dir"].iterdir() if p.name.endswith(".part")] == []


def test_a_failing_plan_save_leaves_no_audio(clips: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    from styletransfer.plan import RenderPlan

    def full(self: RenderPlan, path: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(RenderPlan, "save", full)
    before = {p.name for p in clips["dir"].iterdir()}
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(clips["dir"] / "out.wav"), "--save-plan", str(clips["dir"] / "p.npz"),
                 "-q"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and one_line(err)
    assert left_over(clips["dir"], before) == set()


def test_disk_full_says_so(clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """libsndfile reports a disk that filled up during the run as "System error": the
    message says what it is."""
    import shutil
    from collections import namedtuple

    full: list[bool] = []

    def no_room(*args: object, **kwargs: object) -> None:
        full.append(True)
        raise sf.LibsndfileError(2, "System error")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(sf.SoundFile, "write", no_room)
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda _: usage(10**12, 10**9, 0 if full else 10**11))
    before = {p.name for p in clips["dir"].iterdir()}
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(clips["dir"] / "out.wav"), "-q"]) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err and "internal" not in err and one_line(err)
    assert left_over(clips["dir"], before) == set()


@pytest.mark.parametrize("case", ["flac channels", "flac rate", "long name", "unwritable",
                                  "folder", "file as folder", "missing folder"])
def test_outputs_are_checked_before_the_work(case: str, clips: dict[str, Path],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = clips["dir"]
    content = clips["content"]
    out: str = str(folder / "out.wav")
    words = {"flac channels": "FLAC holds at most 8 channels", "flac rate": "FLAC holds at "
             "most 655350 Hz", "long name": "the file name is too long", "unwritable":
             "cannot write in folder", "folder": "is a folder: name a file",
             "file as folder": "is a file, not a folder", "missing folder": "does not exist"}
    if case == "flac channels":
        content = folder / "nine.wav"
        sf.write(content, np.random.default_rng(0).standard_normal((SR, 9)) * 0.1, SR)
        out = str(folder / "out.flac")
    elif case == "flac rate":
        content = _wav_claiming(folder / "fast.wav", 700_000,
                                np.random.default_rng(0).standard_normal((1, SR)) * 0.1)
        out = str(folder / "out.flac")
    elif case == "long name":
        out = str(folder / ("x" * 245 + ".wav"))
    elif case == "unwritable":
        out = "/proc/out.wav"
    elif case == "folder":
        (folder / "sub").mkdir()
        out = str(folder / "sub") + "/"
    elif case == "file as folder":
        out = str(content / "x.wav")
    else:
        out = str(folder / "no" / "x.wav")
    before = {p.name for p in folder.iterdir()}
    started = time.perf_counter()
    assert main(["run", str(content), "--style", str(clips["style"]), "-o", out, "-q"]) == 2
    err = capsys.readouterr().err
    assert words[case] in err and one_line(err), err
    assert time.perf_counter() - started < 5.0  # refused before any analysis
    assert left_over(folder, before) == set()


# 9, 10. Live, and small ones ------------------------------------------------------------

@pytest.mark.parametrize(("args", "words"), [
    (["live", "--input", "--sr", "0", "--server", "127.0.0.1:9"], "--sr: a sample rate of 0"),
    (["live", "--input", "--seconds", "-5", "--server", "127.0.0.1:9"],
     "--seconds -5.0 is out of range"),
])
def test_live_numbers(args: list[str], words: str, clips: dict[str, Path]) -> None:
    done = cli([*args, "--style", clips["style"]], timeout=30)
    assert done.returncode == 2 and one_line(done.stderr) and words in done.stderr, done.stderr


def test_small_ones(clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    # stdout closed before the command writes (as `| head` does): quiet, as Unix tools are
    piped = subprocess.Popen([*CLI, "presets"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=QUIET_ENV)
    assert piped.stdout is not None and piped.stderr is not None
    piped.stdout.close()
    assert piped.wait(timeout=30) == 141 and piped.stderr.read() == ""
    done = cli(["demo", "-o", clips["content"]])
    assert done.returncode == 2 and "is a file, not a folder" in done.stderr, done.stderr
    newline = folder / "a\nb.wav"
    done = cli(["run", newline, "--style", clips["style"], "-o", folder / "o.wav"])
    assert done.returncode == 2 and one_line(done.stderr) and "a\\nb.wav" in done.stderr


def test_commands_print_no_warnings(clips: dict[str, Path]) -> None:
    """A run, a learn and an evaluate, with every RuntimeWarning an error: none comes."""
    folder = clips["dir"]
    for args in (["run", clips["content"], "--style", clips["style"], "-o", folder / "o.wav",
                  "-q"], ["learn", clips["style"], "-o", folder / "m.npz", "-q"],
                 ["evaluate", "--content", clips["content"], "--style", clips["style"],
                  "--output", folder / "o.wav"]):
        done = cli(args)
        assert done.returncode == 0 and "Warning" not in done.stderr, done.stderr



def _free_space(free: dict[str, int]) -> object:
    """`shutil.disk_usage` with the free space of some folders set (the others as they are)."""
    import shutil

    real = shutil.disk_usage

    def usage(path: str | os.PathLike[str]) -> object:
        found = real(path)
        folder = str(Path(path).resolve())
        return type(found)(found.total, found.used, free.get(folder, found.free))

    return usage


def test_a_disk_without_room_for_the_run_is_found_before_the_work(
        clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 2 and one line naming the folder, before any work; nothing left behind."""
    import shutil

    out = clips["dir"] / "out.wav"
    before = {p.name for p in clips["dir"].iterdir()}
    monkeypatch.setattr(shutil, "disk_usage",
                        _free_space({str(clips["dir"].resolve()): 1_000_000}))
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert one_line(err) and "GB free" in err and str(clips["dir"]) in err, err
    assert "another disk" in err and not out.exists()
    assert left_over(clips["dir"], before) == set()


def test_without_room_for_the_coefficients_the_blocks_are_transformed_again(
        clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A full temporary folder costs time, not the run: the same output, no store made."""
    import shutil
    import tempfile

    from styletransfer import coefficient_store

    kept = clips["dir"] / "kept.wav"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(kept), "--preset", "instrument", "-q"]) == 0
    made: list[object] = []
    real_init = coefficient_store.CoefficientStore.__init__

    def counted(self: object, *args: object, **options: object) -> None:
        made.append(self)
        real_init(self, *args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(coefficient_store.CoefficientStore, "__init__", counted)
    monkeypatch.setattr(shutil, "disk_usage",
                        _free_space({str(Path(tempfile.gettempdir()).resolve()): 1_000}))
    again = clips["dir"] / "again.wav"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(again), "--preset", "instrument", "-q"]) == 0
    assert made == []
    assert np.array_equal(sf.read(kept)[0], sf.read(again)[0])
