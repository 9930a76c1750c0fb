"""Bad input: exit code 2, one line naming the problem, no output file, inputs untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR

from styletransfer.cli import main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def write_wav(path: Path, y: np.ndarray, sr: int = SR, subtype: str = "FLOAT") -> Path:
    sf.write(path, y.T, sr, subtype=subtype)
    return path


def bad_content(kind: str, folder: Path) -> Path:
    path = folder / f"{kind}.wav"
    if kind == "not_audio":
        path.write_text("this is not audio\n")
    elif kind == "zero_length":
        write_wav(path, np.zeros((1, 0)))
    elif kind == "silent":
        write_wav(path, np.zeros((1, SR)))
    elif kind == "nan":
        y = np.random.default_rng(0).standard_normal((1, SR)) * 0.1
        y[0, 100] = np.nan
        write_wav(path, y)
    elif kind == "inf":
        y = np.random.default_rng(0).standard_normal((1, SR)) * 0.1
        y[0, 100] = np.inf
        write_wav(path, y)
    elif kind == "too_short":
        write_wav(path, np.random.default_rng(0).standard_normal((1, 100)) * 0.1)
    return path


@pytest.mark.parametrize("kind, words", [
    ("not_audio", "not a readable audio file"),
    ("zero_length", "zero length"),
    ("silent", "silent"),
    ("nan", "NaN"),
    ("inf", "infinite"),
    ("too_short", "shorter than one analysis frame"),
])
def test_bad_content_files(kind: str, words: str, clips: dict[str, Path],
                           capsys: pytest.CaptureFixture[str]) -> None:
    content = bad_content(kind, clips["dir"])
    before = {p: digest(p) for p in (content, clips["style"])}
    out = clips["dir"] / "out.wav"
    code, err = run_cli(["run", str(content), "--style", str(clips["style"]), "-o", str(out)],
                        capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert not out.exists()
    assert {p: digest(p) for p in before} == before
    assert sorted(p.name for p in clips["dir"].iterdir()) == sorted(
        ["content.wav", "style.wav", content.name])


@pytest.mark.parametrize("kind", ["not_audio", "silent", "nan", "too_short"])
def test_bad_style_files(kind: str, clips: dict[str, Path],
                         capsys: pytest.CaptureFixture[str]) -> None:
    style = bad_content(kind, clips["dir"])
    out = clips["dir"] / "out.wav"
    code, err = run_cli(["run", str(clips["content"]), "--style", str(style), "-o", str(out)],
                        capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and str(style) in err
    assert not out.exists()


@pytest.mark.parametrize("preset", ["balanced", "instrument"])
def test_a_bad_content_and_a_bad_style_give_one_error(preset: str, clips: dict[str, Path],
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """The style's side of a plan is prepared while the content is read: with faults in
    both, the one line is still the style's, which is checked as it is read, first."""
    content = bad_content("nan", clips["dir"])
    style = clips["dir"] / "silent-style.wav"
    sf.write(style, np.zeros((22050, 1), dtype=np.float32), 22050)
    out = clips["dir"] / "out.wav"
    code, err = run_cli(["run", str(content), "--style", str(style), "-o", str(out),
                         "--preset", preset], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert str(style) in err and "silent" in err and str(content) not in err, err
    assert not out.exists()


@pytest.mark.parametrize("extra, words", [
    (["--strength", "1.5"], "--strength 1.5 is out of range"),
    (["--strength", "-0.1"], "out of range"),
    (["--clusters", "0"], "--clusters 0 is out of range"),
    (["--clusters", "65"], "out of range"),
    (["--levels", "0"], "--levels 0 is out of range"),
    (["--levels", "17"], "out of range"),
    (["--smoothing", "0"], "--smoothing 0 is out of range"),
    (["--continuity", "-1"], "--continuity -1.0 is out of range"),
    (["--envelope", "2"], "--envelope 2.0 is out of range"),
    (["--seed", "-3"], "--seed -3 is out of range"),
    (["--shifts", "0"], "--shifts 0 is out of range"),
    (["--shifts", "9"], "--shifts 9 is out of range"),
    (["--wavelet", "nope"], "--wavelet 'nope' is unknown"),
    (["--wavelet", "dmey"], "--wavelet 'dmey' is unknown"),
    (["--mode", "blend"], "invalid choice"),
    (["--strength", "abc"], "'abc' is not a number"),
    (["--preset", "nope"], "neither a preset name nor a .toml file"),
    (["--subtype", "8"], "--subtype '8' is unknown"),
    (["--engine", "sc9"], "invalid choice"),
    (["--bands-per-octave", "3"], "invalid choice"),
    (["--max-boost-db", "61"], "--max-boost-db 61.0 is out of range"),
    (["--pitch", "-1"], "--pitch -1.0 is out of range"),
    (["--transpose", "7"], "--transpose 7 is out of range"),
    (["--onset-jumps", "1.5"], "--onset-jumps 1.5 is out of range"),
])
def test_bad_options(extra: list[str], words: str, clips: dict[str, Path],
                     capsys: pytest.CaptureFixture[str]) -> None:
    out = clips["dir"] / "out.wav"
    code, err = run_cli(["run", str(clips["content"]), "--style", str(clips["style"]),
                         "-o", str(out), *extra], capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and words in err, err
    assert not out.exists()


def test_missing_files_and_paths(clips: dict[str, Path],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    content, style, folder = str(clips["content"]), str(clips["style"]), clips["dir"]
    cases = [
        (["run", str(folder / "missing.wav"), "--style", style], "no such file"),
        (["run", content, "--style", str(folder / "gone.flac")], "no such file"),
        (["run", content, "--style", style, "-o", str(folder / "no" / "out.wav")],
         "does not exist"),
        (["run", content, "--style", style, "-o", content], "also an input"),
        (["run", content, "--style", style, "-o", style], "also an input"),
        (["run", content, "--style", style, "-o", str(folder / "out.mp3")],
         "must end in .wav or .flac"),
        (["run", content, "--style", style, "-o", str(folder / "out.flac"), "--subtype",
          "float"], "FLAC cannot hold FLOAT"),
        (["run", content, "--style", style, "--save-plan", str(folder / "x" / "p.npz")],
         "does not exist"),
        (["run", content], "the following arguments are required: --style"),
        (["run", content, "--style", str(folder)], "is a folder"),
    ]
    for args, words in cases:
        code, err = run_cli(args, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and words in err, (args, err)
    assert sorted(p.name for p in folder.iterdir()) == ["content.wav", "style.wav"]


def test_existing_output_needs_force(clips: dict[str, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = clips["dir"] / "content.styled.wav"
    out.write_bytes(b"keep me")
    code, err = run_cli(["run", str(clips["content"]), "--style", str(clips["style"])], capsys)
    assert code == 2 and "--force" in err
    assert out.read_bytes() == b"keep me"
    code, _ = run_cli(["run", str(clips["content"]), "--style", str(clips["style"]), "--force",
                       "--quiet"], capsys)
    assert code == 0 and sf.info(out).frames > 0


def test_output_is_same_file_through_a_link(clips: dict[str, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    link = clips["dir"] / "link.wav"
    os.symlink(clips["content"], link)
    code, err = run_cli(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                         str(link), "--force"], capsys)
    assert code == 2 and "also an input" in err


def test_errors_from_the_installed_command_have_no_traceback(clips: dict[str, Path]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "styletransfer", "run", str(clips["content"]), "--style",
         str(clips["style"]), "--strength", "7"], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == ("styletransfer: error: --strength 7.0 is out of range: "
                                     "use a value from 0 to 1")
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_failed_write_leaves_no_partial_file(clips: dict[str, Path],
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    written = sf.SoundFile.write

    def broken_write(self: sf.SoundFile, data: object) -> None:
        written(self, data)  # a partial file: the header and the first block
        raise OSError("disk full")

    monkeypatch.setattr(sf.SoundFile, "write", broken_write)
    out = clips["dir"] / "out.wav"
    code, err = run_cli(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                         str(out)], capsys)
    assert code == 1 and err.startswith("styletransfer: error: disk full")
    assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in clips["dir"].iterdir()) == ["content.wav", "style.wav"]
