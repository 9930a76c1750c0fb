"""Reading every supported format, any rate and channel count; writing formats without clipping."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read

from styletransfer import audio
from styletransfer.cli import main

FORMATS = [("wav", "WAV", "PCM_16"), ("flac", "FLAC", "PCM_16"), ("ogg", "OGG", "VORBIS"),
           ("aiff", "AIFF", "PCM_16"), ("au", "AU", "PCM_16"), ("mp3", "MP3", "MPEG_LAYER_III")]


@pytest.mark.parametrize("suffix, fmt, subtype", FORMATS)
def test_reads_every_format(tmp_path: Path, content_audio: np.ndarray, suffix: str, fmt: str,
                            subtype: str) -> None:
    path = tmp_path / f"clip.{suffix}"
    sf.write(path, content_audio.T, SR, format=fmt, subtype=subtype)
    y, sr = audio.load(path)
    assert sr == SR and y.shape[0] == 1
    assert abs(y.shape[1] - content_audio.shape[1]) <= 2 * 1152  # MP3 adds codec delay
    assert np.max(np.abs(y)) > 0.1


@pytest.mark.parametrize("suffix, fmt, subtype", FORMATS)
def test_runs_on_every_format(tmp_path: Path, content_audio: np.ndarray, style_audio: np.ndarray,
                              suffix: str, fmt: str, subtype: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    content, style = tmp_path / f"content.{suffix}", tmp_path / f"style.{suffix}"
    sf.write(content, content_audio.T, SR, format=fmt, subtype=subtype)
    sf.write(style, style_audio.T, SR, format=fmt, subtype=subtype)
    assert main(["run", str(content), "--style", str(style), "--quiet"]) == 0
    out = tmp_path / "content.styled.wav"
    assert capsys.readouterr().out.strip() == str(out)
    assert sf.info(out).frames == sf.info(content).frames


@pytest.mark.parametrize("content_channels, style_channels", [(1, 2), (2, 1), (2, 2), (4, 2),
                                                              (1, 6)])
def test_output_keeps_content_channels(tmp_path: Path, content_audio: np.ndarray,
                                       style_audio: np.ndarray, content_channels: int,
                                       style_channels: int) -> None:
    content = tmp_path / "c.wav"
    style = tmp_path / "s.wav"
    gains = np.linspace(1.0, 0.5, content_channels)[:, None]
    sf.write(content, (content_audio[[0] * content_channels] * gains).T, SR)
    sf.write(style, style_audio[np.arange(style_channels) % 2].T, SR)
    for mode in ("timbre", "mosaic"):
        out = tmp_path / f"o-{mode}.wav"
        assert main(["run", str(content), "--style", str(style), "-o", str(out), "--mode", mode,
                     "--quiet"]) == 0
        y, sr = read(out)
        assert y.shape == (content_channels, content_audio.shape[1]) and sr == SR


def test_style_at_another_rate_is_resampled(tmp_path: Path, content_audio: np.ndarray,
                                            style_audio: np.ndarray) -> None:
    content, style = tmp_path / "c.wav", tmp_path / "s.flac"
    sf.write(content, content_audio.T, SR)
    import librosa

    sf.write(style, librosa.resample(style_audio, orig_sr=SR, target_sr=48000).T, 48000)
    out = tmp_path / "o.flac"
    assert main(["run", str(content), "--style", str(style), "-o", str(out), "--quiet"]) == 0
    info = sf.info(out)
    assert info.samplerate == SR and info.frames == content_audio.shape[1]
    assert info.format == "FLAC" and info.subtype == "PCM_24"


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000, 96000])
def test_any_sample_rate(tmp_path: Path, sr: int) -> None:
    from styletransfer.demo import breathy_drone, plucked_melody

    content, style = tmp_path / "c.wav", tmp_path / "s.wav"
    sf.write(content, plucked_melody(sr, notes=(60, 67, 64)).T, sr)
    sf.write(style, breathy_drone(sr, seconds=2.0).T, sr)
    out = tmp_path / "o.wav"
    assert main(["run", str(content), "--style", str(style), "-o", str(out), "--quiet"]) == 0
    assert sf.info(out).samplerate == sr


@pytest.mark.parametrize("flag, subtype", [("16", "PCM_16"), ("24", "PCM_24"),
                                           ("float", "FLOAT")])
def test_subtypes_and_no_clipping(tmp_path: Path, flag: str, subtype: str,
                                  content_audio: np.ndarray, style_audio: np.ndarray) -> None:
    content, style = tmp_path / "c.wav", tmp_path / "s.wav"
    sf.write(content, (content_audio / np.max(np.abs(content_audio)) * 0.99).T, SR)
    sf.write(style, style_audio.T, SR)
    out = tmp_path / "o.wav"
    assert main(["run", str(content), "--style", str(style), "-o", str(out), "--subtype", flag,
                 "--strength", "1", "--quiet"]) == 0
    assert sf.info(out).subtype == subtype
    y, _ = read(out)
    assert np.max(np.abs(y)) <= audio.PEAK_CEILING + 1e-4


def test_limit_peak_is_one_gain_for_the_whole_file() -> None:
    y = np.array([[0.5, -3.0, 1.5]])
    out, gain = audio.limit_peak(y)
    assert np.allclose(out / y, gain) and np.max(np.abs(out)) == pytest.approx(audio.PEAK_CEILING)
    quiet = np.array([[0.1, -0.2]])
    assert audio.limit_peak(quiet)[1] == 1.0


def test_writes_are_atomic_and_keep_permissions(tmp_path: Path) -> None:
    out = tmp_path / "x.wav"
    audio.write(out, 0.1 * np.sin(np.arange(100.0))[None, :], SR)
    assert [p.name for p in tmp_path.iterdir()] == ["x.wav"]
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)


@pytest.mark.parametrize("mode", ["timbre", "mosaic"])
def test_one_frame_works_and_constant_inputs_are_refused(tmp_path: Path, mode: str,
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    """The shortest accepted input (one frame) renders; a constant (DC) content or style
    holds no sound to style or take, and would only make a DC output: refused."""
    rng = np.random.default_rng(4)
    one_frame, constant = tmp_path / "one.wav", tmp_path / "dc.wav"
    sf.write(one_frame, rng.standard_normal(512) * 0.1, SR)  # 512 samples: one frame at 22.05 kHz
    sf.write(constant, np.full(SR, 0.3), SR)
    out = tmp_path / "one-one.wav"
    assert main(["run", str(one_frame), "--style", str(one_frame), "-o", str(out), "--mode",
                 mode, "--quiet"]) == 0
    y, _ = read(out)
    assert y.shape[1] == sf.info(one_frame).frames and np.all(np.isfinite(y))
    for content, style in ((one_frame, constant), (constant, one_frame)):
        out = tmp_path / f"{content.stem}-{style.stem}.wav"
        capsys.readouterr()
        assert main(["run", str(content), "--style", str(style), "-o", str(out), "--mode",
                     mode, "--quiet"]) == 2
        assert "is constant" in capsys.readouterr().err
        assert not out.exists()
