"""Objective measures: style closeness, content kept, ground truth and sanity checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR

from styletransfer.audio import resample
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.errors import ParameterError
from styletransfer.evaluate import (
    METRICS,
    _frechet_distance,
    evaluate,
    evaluate_files,
    format_report,
    mcd_per_frame,
    mel_cepstra,
)

SHORT = (60, 64, 67, 72)


@pytest.fixture(scope="module")
def identity(content_audio: np.ndarray, style_audio: np.ndarray) -> dict[str, float]:
    """The content given back as the output."""
    return evaluate(content_audio, style_audio, content_audio.copy(), SR)


def test_keys_in_display_order(identity: dict[str, float]) -> None:
    assert tuple(identity) == METRICS
    assert all(isinstance(v, float) for v in identity.values())


def test_content_as_output_gains_nothing_and_keeps_everything(identity: dict[str, float]) -> None:
    assert identity["style_gain_mfcc"] == 0.0
    assert identity["style_gain_texture"] == 0.0
    assert identity["mfcc_distance_content"] > 0 and identity["texture_distance_content"] > 0
    for key in ("onset_corr", "chroma_cos", "loudness_corr"):
        assert identity[key] == pytest.approx(1.0, abs=1e-9), key
    assert identity["duration_ratio"] == 1.0
    assert identity["silent"] == 0.0 and identity["clip_fraction"] == 0.0
    assert identity["peak_dbfs"] == pytest.approx(20 * math.log10(0.3), abs=1e-4)
    for key in ("mcd_output", "mcd_content", "mcd_reduction"):
        assert math.isnan(identity[key]), key


def test_style_as_output_reaches_the_style(content_audio: np.ndarray,
                                           style_audio: np.ndarray) -> None:
    m = evaluate(content_audio, style_audio, style_audio, SR)
    assert m["style_gain_mfcc"] == pytest.approx(1.0, abs=1e-6)
    assert m["style_gain_texture"] == pytest.approx(1.0, abs=1e-6)
    assert m["chroma_cos"] < 0.5
    assert m["onset_corr"] < 0.5


def test_style_like_output_comes_close(content_audio: np.ndarray,
                                       style_audio: np.ndarray) -> None:
    """Another take of the drone (other noise and bells) is near the style, not equal to it."""
    other = breathy_drone(SR, seconds=4.0, seed=11)
    m = evaluate(content_audio, style_audio, other, SR)
    assert 0.7 < m["style_gain_mfcc"] < 1.0
    assert 0.5 < m["style_gain_texture"] < 1.0
    assert m["mfcc_distance_output"] < m["mfcc_distance_content"]


def test_shifted_rhythm_lowers_onset_corr() -> None:
    content = plucked_melody(SR, notes=SHORT)
    quarter_note = SR // 4
    m = evaluate(content, breathy_drone(SR, seconds=2.0), np.roll(content, quarter_note, axis=1),
                 SR)
    assert m["onset_corr"] < 0.5
    assert m["loudness_corr"] < 0.5


def test_transposed_melody_lowers_chroma_not_onsets() -> None:
    up = plucked_melody(SR, notes=tuple(n + 1 for n in SHORT))
    m = evaluate(plucked_melody(SR, notes=SHORT), breathy_drone(SR, seconds=2.0), up, SR)
    assert m["chroma_cos"] < 0.5
    assert m["onset_corr"] > 0.9
    assert m["loudness_corr"] > 0.9


def test_mcd_against_ground_truth() -> None:
    content = plucked_melody(SR, notes=SHORT)
    style = breathy_drone(SR, seconds=2.0)
    truth = 0.5 * content + 0.02 * np.random.default_rng(3).standard_normal(content.shape)
    perfect = evaluate(content, style, truth, SR, truth=truth)
    assert perfect["mcd_output"] == 0.0
    assert perfect["mcd_content"] > 1.0
    assert perfect["mcd_reduction"] == 1.0
    # c0 is left out, so a change of level alone costs nothing; content == truth gives NaN.
    quieter = evaluate(content, style, 0.5 * content, SR, truth=content)
    assert quieter["mcd_output"] < 1e-6
    assert quieter["mcd_content"] == 0.0
    assert math.isnan(quieter["mcd_reduction"])


def test_frame_cepstra_make_up_the_mcd() -> None:
    content = plucked_melody(SR, notes=SHORT)
    style = breathy_drone(SR, seconds=2.0)
    truth = content + 0.05 * np.random.default_rng(4).standard_normal(content.shape)
    m = evaluate(content, style, style[:, :content.shape[1]], SR, truth=truth)
    per_frame = mcd_per_frame(mel_cepstra(style[:, :content.shape[1]], SR),
                              mel_cepstra(truth, SR))
    assert per_frame.shape == (content.shape[1] // 512 + 1,)
    assert per_frame.mean() == pytest.approx(m["mcd_output"], rel=1e-12)
    # Cepstra of a rate other than 22.05 kHz are taken after resampling, like every measure.
    at_44k = mel_cepstra(resample(truth, SR, 44100), 44100)
    assert np.median(mcd_per_frame(at_44k, mel_cepstra(truth, SR))) < 0.1 * m["mcd_output"]
    with pytest.raises(ParameterError, match="silent"):
        mel_cepstra(np.zeros(SR), SR)


def test_clipped_samples_are_counted() -> None:
    content = plucked_melody(SR, notes=SHORT)
    out = content.copy()
    out[0, :100] = 1.0
    out[0, 200:250] = -1.5
    m = evaluate(content, breathy_drone(SR, seconds=2.0), out, SR)
    assert m["clip_fraction"] == pytest.approx(150 / out.size)
    assert m["peak_dbfs"] == pytest.approx(20 * math.log10(1.5))


def test_nonfinite_output_is_counted_and_measured() -> None:
    content = plucked_melody(SR, notes=SHORT)
    out = np.vstack([content, content])
    out[0, 1000:1010] = np.nan
    out[1, 5000:5005] = np.inf
    m = evaluate(content, breathy_drone(SR, seconds=2.0), out, SR)
    assert m["nonfinite_fraction"] == pytest.approx(15 / out.size)
    assert m["clip_fraction"] == 0.0
    for key in METRICS:
        if not key.startswith("mcd"):
            assert math.isfinite(m[key]), key
    assert m["onset_corr"] > 0.95


def test_half_length_output_and_silence() -> None:
    content = plucked_melody(SR, notes=SHORT)
    style = breathy_drone(SR, seconds=2.0)
    half = evaluate(content, style, content[:, : content.shape[1] // 2], SR)
    assert half["duration_ratio"] == 0.5
    silent = evaluate(content, style, np.zeros_like(content), SR)
    assert silent["silent"] == 1.0 and silent["peak_dbfs"] == -math.inf
    assert math.isnan(silent["onset_corr"]) and math.isnan(silent["loudness_corr"])
    quiet = evaluate(content, style, content * 10 ** (-50 / 20), SR)
    assert quiet["silent"] == 0.0


def test_frechet_distance_of_known_gaussians() -> None:
    # |mu|^2 = 1 + 4; tr = (1 + 4) + (4 + 9) - 2 (2 + 6) = 2
    d = _frechet_distance(np.zeros(2), np.diag([1.0, 4.0]), np.array([1.0, 2.0]),
                          np.diag([4.0, 9.0]))
    assert d == pytest.approx(7.0)
    # The distance does not change under a rotation of both Gaussians.
    theta = 0.7
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    d_rot = _frechet_distance(np.zeros(2), rot @ np.diag([1.0, 4.0]) @ rot.T,
                              rot @ np.array([1.0, 2.0]), rot @ np.diag([4.0, 9.0]) @ rot.T)
    assert d_rot == pytest.approx(7.0)
    # Equal Gaussians: 0, and a singular covariance does not break it.
    cov = np.array([[2.0, 2.0], [2.0, 2.0]])
    assert _frechet_distance(np.ones(2), cov, np.ones(2), cov) == pytest.approx(0.0, abs=1e-6)


def test_evaluate_files_at_different_rates(tmp_path: Path, content_audio: np.ndarray,
                                           style_audio: np.ndarray) -> None:
    paths = {name: tmp_path / f"{name}.wav" for name in ("content", "style", "output")}
    sf.write(paths["content"], content_audio.T, SR, subtype="FLOAT")
    sf.write(paths["style"], resample(style_audio, SR, 44100).T, 44100, subtype="FLOAT")
    output = resample(content_audio, SR, 32000)
    output[0, 100] = np.nan
    sf.write(paths["output"], output.T, 32000, subtype="FLOAT")
    m = evaluate_files(paths["content"], paths["style"], paths["output"],
                       truth=paths["content"])
    assert m["duration_ratio"] == pytest.approx(1.0)
    assert m["nonfinite_fraction"] == pytest.approx(1 / output.size)
    assert m["onset_corr"] > 0.95 and m["chroma_cos"] > 0.95 and m["loudness_corr"] > 0.95
    assert abs(m["style_gain_mfcc"]) < 0.1
    assert 0 <= m["mcd_output"] < m["mcd_content"] + 5


def test_bad_input_is_refused(tmp_path: Path, content_audio: np.ndarray,
                              style_audio: np.ndarray) -> None:
    with pytest.raises(ParameterError, match="output: has no samples"):
        evaluate(content_audio, style_audio, np.zeros(0), SR)
    with pytest.raises(ParameterError, match=r"content: .* too short"):
        evaluate(content_audio[:, :100], style_audio, content_audio, SR)
    with pytest.raises(ParameterError, match="more channels than samples"):
        evaluate(content_audio, style_audio.T, content_audio, SR)
    with pytest.raises(ParameterError, match="1-D or"):
        evaluate(content_audio, style_audio, content_audio[None], SR)
    nan_truth = content_audio.copy()
    nan_truth[0, 5] = np.nan
    with pytest.raises(ParameterError, match="truth: holds NaN"):
        evaluate(content_audio, style_audio, content_audio, SR, truth=nan_truth)
    with pytest.raises(ParameterError, match="sample rate"):
        evaluate(content_audio, style_audio, content_audio, 0)
    with pytest.raises(ParameterError, match="no such file"):
        evaluate_files(tmp_path / "c.wav", tmp_path / "s.wav", tmp_path / "o.wav")
    existing = tmp_path / "c.wav"
    sf.write(existing, content_audio.T, SR)
    with pytest.raises(ParameterError, match=r"o\.wav: no such file"):
        evaluate_files(existing, existing, tmp_path / "o.wav")
    (tmp_path / "o.wav").write_text("not audio")
    with pytest.raises(ParameterError, match="not a readable audio file"):
        evaluate_files(existing, existing, tmp_path / "o.wav")


def test_format_report_is_aligned(identity: dict[str, float]) -> None:
    text = format_report(identity)
    lines = text.splitlines()
    assert [line.split()[0] for line in lines] == list(METRICS)
    assert "n/a" in text and "dBFS" in text
    value_columns = {len(line) - len(line[len(line.split()[0]):].lstrip()) for line in lines}
    assert len(value_columns) == 1
    assert format_report({}) == ""
