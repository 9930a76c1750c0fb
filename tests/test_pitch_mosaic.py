"""The mosaic follows the content's pitch: chroma matching, transposed styles, attack jumps."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from styletransfer import RenderPlan, Settings, transfer
from styletransfer.analysis import analyse
from styletransfer.mapping import onset_jump_scale
from styletransfer.profiles import frame_chroma

SR = 22050


def notes(midi: list[int], seconds: float = 0.4) -> np.ndarray:
    """Harmonic tones (three partials, plucked envelope), one after another, mono."""
    n = int(seconds * SR)
    t = np.arange(n) / SR
    tones = []
    for m in midi:
        f = 440.0 * 2 ** ((m - 69) / 12)
        tone = sum(np.sin(2 * np.pi * k * f * t) / k for k in (1, 2, 3))
        tones.append(tone * np.exp(-3 * t))
    return (0.3 * np.concatenate(tones))[None, :].astype(np.float32)


def chroma_agreement(out: np.ndarray, content: np.ndarray, hop: int) -> float:
    a, b = frame_chroma(out, SR, hop), frame_chroma(content, SR, hop)
    return float(np.mean(np.sum(a * b, axis=1)))


def test_frame_chroma_finds_pitch_classes() -> None:
    y = notes([60, 64, 67])
    c = frame_chroma(y, SR, 512)
    assert c.shape == (analyse(y, SR).n_frames, 12)
    assert np.allclose(np.linalg.norm(c, axis=1), 1.0)
    per_note = int(0.4 * SR) // 512
    assert [int(c[i * per_note + per_note // 2].argmax()) for i in range(3)] == [0, 4, 7]
    assert not frame_chroma(np.zeros((1, 4096)), SR, 512).any()


def test_pitch_weight_makes_the_mosaic_follow_the_notes() -> None:
    content = notes([60, 67, 64, 62, 65, 60] * 2)
    style = notes(list(range(55, 80)) * 2, seconds=0.3)
    plain = Settings(mode="mosaic", clusters=4)
    out0, plan = transfer(content, SR, [(style, SR)], settings=plain)
    out1, _ = transfer(content, SR, [(style, SR)], settings=Settings(
        mode="mosaic", clusters=4, pitch=4.0, onset_jumps=0.9))
    before, after = (chroma_agreement(o, content, plan.hop) for o in (out0, out1))
    assert after > before + 0.1, (before, after)
    assert after > 0.8


def test_transposed_style_plays_notes_it_lacks() -> None:
    content = notes([62, 62, 62, 62])
    style = notes([60, 60, 60, 60])  # a whole tone below: only a transposition matches
    settings = Settings(mode="mosaic", clusters=2, pitch=4.0)
    out0, plan = transfer(content, SR, [(style, SR)], settings=settings)
    out2, plan2 = transfer(content, SR, [(style, SR)],
                           settings=Settings(mode="mosaic", clusters=2, pitch=4.0, transpose=2))
    assert out2.shape == content.shape and np.all(np.isfinite(out2))
    n_style_frames = analyse(style, SR).n_frames
    assert plan2.segments.max() >= n_style_frames  # frames of a transposed copy are played
    before, after = (chroma_agreement(o, content, plan.hop) for o in (out0, out2))
    assert after > 0.85 and after > before + 0.2, (before, after)


def test_same_seed_same_pitch_mosaic() -> None:
    content, style = notes([60, 64, 67, 72]), notes([59, 62, 66, 69, 71])
    settings = Settings(mode="mosaic", pitch=2.0, transpose=1, onset_jumps=0.5, clusters=3)
    a, _ = transfer(content, SR, [(style, SR)], settings=settings)
    b, _ = transfer(content, SR, [(style, SR)], settings=settings)
    assert np.array_equal(a, b)


def test_onset_jump_scale_is_lowest_at_attacks() -> None:
    y = notes([60, 64, 67, 72])
    a = analyse(y, SR)
    scale = onset_jump_scale(a, floor=0.2)
    assert scale.min() >= 0.2 - 1e-9 and scale.max() <= 1.0
    per_note = int(0.4 * SR) / a.hop
    attacks = np.round(np.arange(1, 4) * per_note).astype(int)
    near = [scale[max(i - 1, 0): i + 2].min() for i in attacks]
    assert max(near) < 0.5, near
    assert np.median(scale) > 0.8


def test_pitch_options_on_the_command_line(clips: dict[str, Path]) -> None:
    """--pitch, --transpose and --onset-jumps reach the plan, over the preset's values."""
    out, plan = clips["dir"] / "out.wav", clips["dir"] / "plan.npz"
    done = subprocess.run([sys.executable, "-m", "styletransfer", "run", str(clips["content"]),
                           "--style", str(clips["style"]), "-o", str(out), "--preset", "mosaic",
                           "--pitch", "2.5", "--transpose", "1", "--onset-jumps", "0.5",
                           "--max-boost-db", "18", "--save-plan", str(plan), "-q"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    settings = RenderPlan.load(plan).settings
    assert (settings["pitch"], settings["transpose"], settings["onset_jumps"],
            settings["max_boost_db"]) == (2.5, 1, 0.5, 18.0)


def test_the_search_in_pieces_chooses_what_it_chose_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The nearest style frames are searched a few thousand content frames at a time, with
    their chroma columns added piece by piece: the segments equal a search of all at once."""
    from styletransfer import mapping
    from styletransfer.mapping import StyleFrames, choose_segments
    from styletransfer.model import StyleModel

    rng = np.random.default_rng(0)
    model = StyleModel(4).fit([analyse(rng.standard_normal((1, 44100)), 22050)])
    n_style = model.features_.shape[0]
    chroma = rng.random((n_style, 12))
    frames = StyleFrames(features=model.features_, labels=model.labels_, track=model.track_,
                         chroma=chroma / np.linalg.norm(chroma, axis=1, keepdims=True))
    target = rng.standard_normal((3000, model.features_.shape[1]))
    target_chroma = rng.random((3000, 12))

    def chosen() -> np.ndarray:
        return choose_segments(target, model, frames=frames, target_chroma=target_chroma,
                               pitch=2.0, continuity=0.7)

    whole = chosen()
    monkeypatch.setattr(mapping, "_SEARCH_ROWS", 256)
    pieces = chosen()
    monkeypatch.setattr(mapping, "_SEARCH_ROWS", 1000)  # not a whole number of chunks
    assert np.array_equal(pieces, whole)
    assert np.array_equal(chosen(), whole)
    assert len(np.unique(whole)) > 10  # a real choice, not one frame throughout
