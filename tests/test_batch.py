"""Batch runs: many contents, one progress, each output as its own run makes it; a failing
content is reported, the others are done, and the exit code says some failed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read

from styletransfer.cli import main


@pytest.fixture()
def contents(clips: dict[str, Path], content_audio: np.ndarray) -> list[Path]:
    folder = clips["dir"]
    paths = []
    for index in range(3):
        path = folder / f"song{index}.wav"
        sf.write(path, np.roll(content_audio, 2000 * index, axis=1).T, SR, subtype="PCM_16")
        paths.append(path)
    return paths


def test_a_batch_equals_single_runs(contents: list[Path], clips: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = clips["dir"] / "out"
    out.mkdir()
    corrupt = clips["dir"] / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt broken")
    args = ["run", *map(str, [contents[0], corrupt, *contents[1:]]), "--style",
            str(clips["style"]), "-o", str(out), "--preset", "mosaic", "--jobs", "2"]
    assert main(args) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert len(errors) == 2 and str(corrupt) in errors[0] and "not a readable" in errors[0]
    assert errors[1] == "styletransfer: error: 1 of 4 contents failed (each named above); " \
                        "3 styled"
    assert sorted(captured.out.split()) == sorted(str(out / f"song{i}.styled.wav")
                                                  for i in range(3))
    assert sorted(p.name for p in out.iterdir()) == [f"song{i}.styled.wav" for i in range(3)]
    single = clips["dir"] / "single.wav"
    assert main(["run", str(contents[2]), "--style", str(clips["style"]), "-o", str(single),
                 "--preset", "mosaic", "-q"]) == 0
    assert np.array_equal(read(single)[0], read(out / "song2.styled.wav")[0])


def test_batch_checks_what_all_share_before_any_work(contents: list[Path],
                                                     clips: dict[str, Path],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    folder = clips["dir"]
    before = sorted(p.name for p in folder.iterdir())
    cases = [
        (["-o", str(folder / "missing")], "does not exist"),
        (["--style", str(folder / "gone.wav")], "no such file"),
        (["--strength", "3"], "--strength 3.0 is out of range"),
        (["--save-plan", str(folder / "p.npz")], "--save-plan names one file"),
        (["--jobs", "0"], "--jobs 0 is out of range"),
        (["--block-seconds", "0"], "--block-seconds 0 is out of range"),
    ]
    for extra, words in cases:
        style = [] if "--style" in extra else ["--style", str(clips["style"])]
        assert main(["run", *map(str, contents), *style, *extra, "-q"]) == 2, extra
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and words in err, err
    twins = folder / "x"
    twins.mkdir()
    sf.write(twins / "song0.flac", np.zeros((SR, 1)) + 0.1 * np.arange(SR)[:, None] / SR, SR)
    assert main(["run", str(contents[0]), str(twins / "song0.flac"), "--style",
                 str(clips["style"]), "-o", str(folder), "-q"]) == 2
    assert "would both be styled into" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir() if p.name != "x") == before


def test_existing_outputs_fail_alone(contents: list[Path], clips: dict[str, Path],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out = clips["dir"] / "o"
    out.mkdir()
    (out / "song1.styled.wav").write_bytes(b"keep me")
    code = main(["run", *map(str, contents), "--style", str(clips["style"]), "-o", str(out),
                 "--jobs", "1", "-q"])
    assert code == 1
    err = capsys.readouterr().err
    assert "song1.styled.wav: already exists: pass --force" in err
    assert (out / "song1.styled.wav").read_bytes() == b"keep me"
    assert (out / "song0.styled.wav").exists() and (out / "song2.styled.wav").exists()


def test_a_batch_reads_the_contents_in_the_blocks_asked_for(contents: list[Path],
                                                            clips: dict[str, Path]) -> None:
    out = clips["dir"] / "out"
    out.mkdir()
    common = ["--style", str(clips["style"]), "--subtype", "float", "-q"]
    assert main(["run", *map(str, contents[:2]), *common, "-o", str(out), "--jobs", "1",
                 "--block-seconds", "0.2"]) == 0
    single = clips["dir"] / "single.wav"
    assert main(["run", str(contents[1]), *common, "-o", str(single),
                 "--block-seconds", "0.2"]) == 0
    assert np.array_equal(read(single)[0], read(out / "song1.styled.wav")[0])
