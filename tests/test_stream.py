"""Block-wise transfer: the output equals the whole-file rendering, at every block edge."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from styletransfer.analysis import decompose, packet_depths, supported_wavelets, synthesise
from styletransfer.audio import limit_peak
from styletransfer.blocks import BlockGrid
from styletransfer.presets import load_preset
from styletransfer.profiles import frame_chroma, frame_pitches
from styletransfer.stream import ArrayReader, FileReader, transfer_blocks
from styletransfer.stream_chroma import ChromaStream
from styletransfer.stream_render import finished_blocks
from styletransfer.transfer import analysis_grid, transfer

SR = 22050


@pytest.fixture(scope="module")
def stereo(content_audio: np.ndarray) -> np.ndarray:
    """A stereo content whose length (88,200 + 777 samples) is no multiple of a frame."""
    left = np.concatenate([content_audio[0], content_audio[0, :777]])
    return np.stack([left, 0.6 * np.roll(left, 301)]).astype(np.float32)


def _streamed(y: np.ndarray, style: np.ndarray, preset: str, blocks: int,
              folder: Path) -> tuple[np.ndarray, np.ndarray]:
    done = transfer_blocks(ArrayReader(y, SR), [(style, SR)], folder / f"raw-{blocks}",
                           settings=load_preset(preset).settings, blocks=blocks)
    out = np.concatenate(list(finished_blocks(done, ArrayReader(y, SR))), axis=1)
    return out, done.plan.segments


@pytest.mark.parametrize("preset", ["balanced", "mosaic", "instrument"])
def test_blocks_equal_whole_file(preset: str, stereo: np.ndarray, style_audio: np.ndarray,
                                 tmp_path: Path) -> None:
    style = style_audio.astype(np.float32)
    whole, plan = transfer(stereo, SR, [(style, SR)], settings=load_preset(preset).settings)
    grid = BlockGrid(stereo.shape[1], plan.hop, plan.level, plan.wavelet, 1)
    assert grid.margin > 1  # one-frame blocks are far narrower than their margins
    # one frame, 7 frames (the last block shorter), and one block for the whole file
    for blocks in (1, 7, grid.n_frames + 5):
        out, segments = _streamed(stereo, style, preset, blocks, tmp_path)
        assert out.shape == whole.shape
        assert np.array_equal(segments, plan.segments)
        error = float(np.max(np.abs(out - whole)) / np.max(np.abs(whole)))
        assert error < 1e-6, (blocks, error)
        edges = np.arange(blocks, grid.n_frames, blocks)[:20] * plan.hop
        if edges.size:  # around the seams themselves
            near = (edges[:, None] + np.arange(-4, 4)).ravel()
            assert np.max(np.abs(out[:, near] - whole[:, near])) < 1e-6 * np.max(np.abs(whole))


@pytest.mark.parametrize("scale", [1.0, 2.0**24])
def test_the_rendering_reads_the_coefficients_the_feature_pass_kept(
        scale: float, stereo: np.ndarray, style_audio: np.ndarray, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every block's unshifted coefficients come from the feature pass (of a track so loud
    that it is read twice, from the second pass), and the result is the one the rendering
    makes when it transforms the blocks again."""
    from styletransfer.coefficient_store import CoefficientStore

    y, style = (stereo * np.float32(scale)), style_audio.astype(np.float32)
    reads: list[int] = []
    bands = CoefficientStore.bands

    def counted(store: CoefficientStore, frames: np.ndarray) -> list[np.ndarray]:
        reads.append(int(frames[0]))
        return bands(store, frames)

    monkeypatch.setattr(CoefficientStore, "bands", counted)
    kept, _ = _streamed(y, style, "instrument", 7, tmp_path)
    _, hop = analysis_grid(load_preset("instrument").settings, SR)
    n_frames = -(-y.shape[1] // hop)
    n_blocks = -(-n_frames // 7)
    assert len(reads) == n_blocks
    monkeypatch.setattr(CoefficientStore, "serves", lambda *_: False)
    again, _ = _streamed(y, style, "instrument", 7, tmp_path)
    assert len(reads) == n_blocks
    assert np.max(np.abs(kept - again)) <= 1e-6 * np.max(np.abs(again))


def test_one_block_file_and_short_blocks_of_a_mono_file(content_audio: np.ndarray,
                                                        style_audio: np.ndarray,
                                                        tmp_path: Path) -> None:
    y = content_audio[:, :1500].astype(np.float32)  # shorter than two frames of 1024
    style = style_audio.astype(np.float32)
    settings = load_preset("balanced").settings
    whole, _ = transfer(y, SR, [(style, SR)], settings=settings)
    for blocks in (1, 100):
        out, _ = _streamed(y, style, "balanced", blocks, tmp_path)
        assert float(np.max(np.abs(out - whole)) / np.max(np.abs(whole))) < 1e-6


@pytest.mark.parametrize("bands_per_octave", [1, 4])
def test_margins_cover_what_every_wavelet_reaches(bands_per_octave: int) -> None:
    """An impulse moves analysis coefficients no further than `BlockGrid.analysis_margin`
    from it, and a rendering (band gains between analysis and synthesis) no further than
    `BlockGrid.margin`: the margins' reasoning, checked for every wavelet offered."""
    rng = np.random.default_rng(0)
    level, hop = 5, 256
    for wavelet in supported_wavelets():
        grid = BlockGrid(1 << 15, hop, level, wavelet, 8, bands_per_octave)
        y = np.zeros((1, grid.period))
        at = grid.period // 2
        y[0, at] = 1.0
        bands = decompose(y, wavelet=wavelet, level=level, hop=hop,
                          bands_per_octave=bands_per_octave)
        reach = max(int(np.max(np.abs(np.flatnonzero(band[0]) * (grid.period // band.shape[1])
                                      - at))) for band in bands)
        assert reach < grid.analysis_margin * hop, wavelet
        out = synthesise([band * rng.uniform(0.1, 3.0) for band in bands], wavelet=wavelet,
                         n_samples=grid.period,
                         depths=packet_depths(hop, level, bands_per_octave))
        reach = int(np.max(np.abs(np.flatnonzero(np.abs(out[0]) > 1e-12) - at)))
        assert reach < grid.margin * hop, wavelet


@pytest.mark.parametrize("octaves", [False, True])
def test_streamed_chroma_equals_whole(content_audio: np.ndarray, octaves: bool) -> None:
    y = np.vstack([content_audio, content_audio[:, ::-1]]).astype(np.float32)
    stream = ChromaStream(SR, 512, -(-y.shape[1] // 512), octaves=octaves)
    blocks = [y[:, i: i + 5000] for i in range(0, y.shape[1], 5000)]
    chroma = stream.profiles(iter(blocks))
    whole = (frame_pitches if octaves else frame_chroma)(y, SR, 512)
    assert chroma.shape == whole.shape
    assert np.max(np.abs(chroma - whole)) < 1e-9


def test_file_reader_reads_any_range(tmp_path: Path, stereo: np.ndarray) -> None:
    path = tmp_path / "c.flac"
    sf.write(path, stereo.T, SR, subtype="PCM_24")
    whole = sf.read(path, dtype="float32", always_2d=True)[0].T
    with FileReader(path) as reader:
        assert (reader.sr, reader.n_channels, reader.n_samples) == (SR, 2, stereo.shape[1])
        assert np.array_equal(reader.read(70_001, 80_000), whole[:, 70_001:80_000])


def test_command_streams_and_renders_a_plan_the_same(clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    small, big = folder / "small.wav", folder / "big.wav"
    base = [sys.executable, "-m", "styletransfer", "run", str(clips["content"]), "--style",
            str(clips["style"]), "--preset", "mosaic", "--subtype", "float", "-q"]
    for out, seconds in ((small, "0.3"), (big, "100")):
        plan = ["--save-plan", str(folder / "plan.npz")] if out == small else []
        subprocess.run([*base, "-o", str(out), "--block-seconds", seconds, *plan], check=True)
    again = folder / "again.wav"
    subprocess.run([sys.executable, "-m", "styletransfer", "render", str(folder / "plan.npz"),
                    "-o", str(again), "--subtype", "float", "--block-seconds", "0.2", "-q"],
                   check=True)
    reference = sf.read(big, dtype="float32", always_2d=True)[0]
    peak = float(np.max(np.abs(reference)))
    for path in (small, again):
        again_out = sf.read(path, dtype="float32", always_2d=True)[0]
        assert np.max(np.abs(again_out - reference)) < 1e-6 * peak
    # the whole-file path gives the same numbers, normalised as a file is
    content = sf.read(clips["content"], dtype="float32", always_2d=True)[0].T
    style = sf.read(clips["style"], dtype="float32", always_2d=True)[0].T
    whole, _ = transfer(content, SR, [(style, SR)], settings=load_preset("mosaic").settings)
    assert np.max(np.abs(limit_peak(whole)[0].T - reference)) < 1e-6 * peak
    # nothing but the outputs is left in the folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        ["content.wav", "style.wav", "small.wav", "big.wav", "again.wav", "plan.npz"])


def test_block_seconds_out_of_range_is_a_user_error(clips: dict[str, Path]) -> None:
    done = subprocess.run([sys.executable, "-m", "styletransfer", "run", str(clips["content"]),
                           "--style", str(clips["style"]), "--block-seconds", "0"],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "styletransfer: error: --block-seconds 0 is out of range: use a value from 0.001 "
        "to 3600"]


def test_engine_sc_reads_the_content_in_blocks_with_the_same_result(
        clips: dict[str, Path]) -> None:
    from sc_support import require_scsynth

    require_scsynth()
    out = clips["dir"] / "sc.wav"
    subprocess.run([sys.executable, "-m", "styletransfer", "run", str(clips["content"]),
                    "--style", str(clips["style"]), "--engine", "sc", "--subtype", "float",
                    "--block-seconds", "0.4", "-o", str(out), "-q"], check=True)
    content = sf.read(clips["content"], dtype="float32", always_2d=True)[0].T
    style = sf.read(clips["style"], dtype="float32", always_2d=True)[0].T
    whole, _ = transfer(content, SR, [(style, SR)], engine="sc")
    reference = limit_peak(whole)[0].T
    streamed = sf.read(out, dtype="float32", always_2d=True)[0]
    assert np.max(np.abs(streamed - reference)) < 1e-6 * np.max(np.abs(reference))


@pytest.mark.parametrize("preset", ["balanced", "mosaic"])
def test_a_run_with_a_picture_agrees_with_the_streamed_run(preset: str,
                                                           clips: dict[str, Path]) -> None:
    from styletransfer.cli import main
    from styletransfer.plan import RenderPlan

    folder = clips["dir"]
    base = ["run", str(clips["content"]), "--style", str(clips["style"]), "--preset", preset,
            "--subtype", "float", "-q"]
    assert main([*base, "-o", str(folder / "streamed.wav"), "--block-seconds", "0.3",
                 "--save-plan", str(folder / "streamed.npz")]) == 0
    assert main([*base, "-o", str(folder / "whole.wav"), "--plot", str(folder / "run.png"),
                 "--save-plan", str(folder / "whole.npz")]) == 0
    streamed, whole = (RenderPlan.load(folder / f"{name}.npz") for name in ("streamed", "whole"))
    assert np.array_equal(streamed.segments, whole.segments)
    assert streamed.states is not None and whole.states is not None
    assert np.array_equal(streamed.states, whole.states)
    assert np.allclose(streamed.gains, whole.gains, rtol=1e-5, atol=0)
    reference = sf.read(folder / "whole.wav", dtype="float32", always_2d=True)[0]
    out = sf.read(folder / "streamed.wav", dtype="float32", always_2d=True)[0]
    assert np.max(np.abs(out - reference)) < 1e-6 * float(np.max(np.abs(reference)))
    assert (folder / "run.png").stat().st_size > 0


def test_a_picture_with_block_seconds_is_refused_before_any_work(
        clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    from styletransfer.cli import main

    folder = clips["dir"]
    before = sorted(p.name for p in folder.iterdir())
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(folder / "out.wav"), "--plot", str(folder / "run.png"),
                 "--block-seconds", "5"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "styletransfer: error: --block-seconds 5 with --plot: a run's picture is drawn from "
        "the whole content and output, so a run with --plot reads them whole; leave out "
        "--block-seconds or --plot"]
    assert sorted(p.name for p in folder.iterdir()) == before
