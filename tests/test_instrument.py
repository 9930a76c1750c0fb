"""Timbre mode with frame targets (the ``instrument`` preset): the content's own notes under
the envelopes of the style frames a pitch-aware search chooses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import SR, band_share, read

from styletransfer import Settings, transfer
from styletransfer.cli import main
from styletransfer.presets import load_preset
from styletransfer.profiles import frame_chroma
from styletransfer.transfer import plan_transfer


def test_frame_targets_make_a_timbre_plan_that_moves_further(content_audio: np.ndarray,
                                                             style_audio: np.ndarray) -> None:
    """A timbre plan (the content is played, shaped), whose band balance comes nearer the
    style's than the states' targets bring it, while the content's pitch classes stay."""
    base = Settings(mode="timbre", strength=1.0, clusters=4, bands_per_octave=4, pitch=4.0,
                    transpose=2, onset_jumps=0.9)
    outs = {}
    for targets in ("states", "frames"):
        out, plan = transfer(content_audio, SR, [(style_audio, SR)],
                             settings=base.updated({"targets": targets}))
        assert plan.mode == "timbre" and np.all(plan.segments == -1)
        assert np.all(np.isfinite(plan.gains)) and out.shape == content_audio.shape
        outs[targets] = out
    target = band_share(style_audio, SR)
    distance = {k: float(np.abs(band_share(v, SR) - target).mean()) for k, v in outs.items()}
    assert distance["frames"] < distance["states"], distance
    kept = np.mean(np.sum(frame_chroma(outs["frames"], SR, 512)
                          * frame_chroma(content_audio, SR, 512), axis=1))
    assert kept > 0.85


def test_frame_targets_need_style_audio(content_audio: np.ndarray,
                                        style_audio: np.ndarray) -> None:
    plan, content, style = plan_transfer(content_audio, SR, [(style_audio, SR)],
                                         settings=load_preset("instrument").settings)
    assert style is None and content.n_channels == 1
    assert plan.settings["targets"] == "frames"


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
