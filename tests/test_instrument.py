"""Timbre mode with targets from style frames: the content's own notes under the envelopes
of the style frames a pitch-aware search chooses (``frames``), or of the style frames
nearest in pitch (``pitch``, the ``instrument`` preset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SR, band_share, read

from styletransfer import Settings, transfer
from styletransfer import pitch_targets as pitch_targets_module
from styletransfer.cli import main
from styletransfer.pitch_targets import active_frames, pitch_targets
from styletransfer.presets import load_preset
from styletransfer.profiles import N_SEMITONES, frame_chroma
from styletransfer.transfer import plan_transfer


def test_frame_targets_make_a_timbre_plan_that_moves_further(content_audio: np.ndarray,
                                                             style_audio: np.ndarray) -> None:
    """A timbre plan (the content is played, shaped), whose band balance comes nearer the
    style's than the states' targets bring it, while the content's pitch classes stay."""
    base = Settings(mode="timbre", strength=1.0, clusters=4, bands_per_octave=4, pitch=4.0,
                    transpose=2, onset_jumps=0.9)
    outs = {}
    for targets in ("states", "frames", "pitch"):
        out, plan = transfer(content_audio, SR, [(style_audio, SR)],
                             settings=base.updated({"targets": targets}))
        assert plan.mode == "timbre" and np.all(plan.segments == -1)
        assert np.all(np.isfinite(plan.gains)) and out.shape == content_audio.shape
        outs[targets] = out
    target = band_share(style_audio, SR)
    distance = {k: float(np.abs(band_share(v, SR) - target).mean()) for k, v in outs.items()}
    assert distance["frames"] < distance["states"], distance
    # pitch targets take the style's envelope at the content's notes (here the bells of a
    # drone), not its average: nearer the style than the content, not than the states
    before = float(np.abs(band_share(content_audio, SR) - target).mean())
    assert distance["pitch"] < 0.8 * before, (distance, before)
    for targets in ("frames", "pitch"):
        kept = np.mean(np.sum(frame_chroma(outs[targets], SR, 512)
                              * frame_chroma(content_audio, SR, 512), axis=1))
        assert kept > 0.85, (targets, kept)


def test_instrument_preset_takes_pitch_targets(content_audio: np.ndarray,
                                               style_audio: np.ndarray) -> None:
    plan, content, style = plan_transfer(content_audio, SR, [(style_audio, SR)],
                                         settings=load_preset("instrument").settings)
    assert style is None and content.n_channels == 1
    assert plan.settings["targets"] == "pitch"


def test_pitch_targets_take_the_envelope_the_style_has_at_each_note() -> None:
    """A style that plays low notes dark and high notes bright: a content frame gets the
    dark envelope on a low note and the bright one on a high note, whatever its state; a
    state with too few style frames takes neighbours from every frame."""
    # unit profiles with a little spread around each note, as partials and vibrato give
    around = np.arange(N_SEMITONES)
    semitones = np.exp(-0.5 * ((around[None, :] - around[:, None]) / 1.5) ** 2)
    semitones /= np.linalg.norm(semitones, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    low, high = semitones[rng.integers(10, 14, 60)], semitones[rng.integers(40, 44, 60)]
    style = np.vstack([low, high])
    dark, bright = np.array([0.0, -3.0]), np.array([-3.0, 0.0])
    shapes = np.vstack([np.tile(dark, (60, 1)), np.tile(bright, (60, 1))])
    shapes += 0.01 * rng.standard_normal(shapes.shape)
    states = np.tile([0, 1], 60)
    content = semitones[[11, 42, 12, 41]]
    out = pitch_targets(content, np.array([0, 0, 1, 1]), style, states, shapes, k=10)
    assert np.allclose(out, [dark, bright, dark, bright], atol=0.02)
    # state 2 has no style frame: its content frames take the nearest of all
    lone = pitch_targets(content[:1], np.array([2]), style, states, shapes, k=10)
    assert np.allclose(lone, [dark], atol=0.02)
    # the same targets (but for a rounding step that may break a tie otherwise) whatever
    # the chunks the distances are taken in
    many = semitones[rng.integers(0, N_SEMITONES, 1500)]
    many_states = rng.integers(0, 2, 1500)
    whole = pitch_targets(many, many_states, style, states, shapes, k=7)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pitch_targets_module, "CHUNK", 37)
        chunked = pitch_targets(many, many_states, style, states, shapes, k=7)
    same = np.all(np.isclose(chunked, whole, rtol=0, atol=1e-12), axis=1)
    assert same.mean() > 0.99, same.mean()


def test_active_frames_leave_out_the_quiet_tails() -> None:
    energy = np.array([[1.0], [1e-5], [1e-7], [0.2]])
    assert active_frames(energy).tolist() == [True, True, False, True]
    assert not active_frames(np.zeros((3, 2))).any()


def test_instrument_preset_on_the_command_line(clips: dict[str, Path],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = clips["dir"] / "out.wav"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o", str(out),
                 "--preset", "instrument", "-q"]) == 0
    y, sr = read(out)
    content, _ = read(clips["content"])
    assert y.shape == content.shape and sr == SR and np.all(np.isfinite(y))
    for args, words in ((["--targets", "notes"], "invalid choice"),
                        (["--guard-db", "5"], "--guard-db 5.0 is out of range")):
        assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                     str(clips["dir"] / "x.wav"), *args]) == 2
        assert words in capsys.readouterr().err
