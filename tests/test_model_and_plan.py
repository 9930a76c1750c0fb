"""StyleModel fitting and persistence, the RenderPlan, and determinism."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read

from styletransfer import ParameterError, RenderPlan, Settings, StyleModel, analyse, render
from styletransfer.cli import main
from styletransfer.model import NotFittedError
from styletransfer.transfer import plan_transfer


def test_model_needs_fit_first() -> None:
    with pytest.raises(NotFittedError, match="call fit"):
        StyleModel().posteriors(np.zeros((1, 3)))


def test_model_keeps_constructor_arguments_and_fits(style_audio: np.ndarray) -> None:
    model = StyleModel(n_states=5, seed=3)
    assert (model.n_states, model.seed) == (5, 3)
    model.fit([analyse(style_audio, SR)])
    assert model.means_.shape[0] == model.n_states_ == 5
    assert np.allclose(model.transitions_.sum(axis=1), 1.0)
    assert set(np.unique(model.labels_)) <= set(range(5))
    # states differ in band shape: the mixture found structure, not one blob
    assert np.ptp(model.shape_mean_, axis=0).max() > 1.0


def test_model_save_load_roundtrip_without_pickle(tmp_path: Path,
                                                  style_audio: np.ndarray) -> None:
    model = StyleModel(n_states=4, seed=1).fit([analyse(style_audio, SR)])
    path = tmp_path / "style.npz"
    model.save(path, audio=[style_audio])
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as member:
                header = member.read(128)
            assert b"'descr': '|O'" not in header and b"<class" not in header, name
    loaded, tracks = StyleModel.load(path)
    for name in ("means", "variances", "transitions", "shape_mean", "features"):
        assert np.array_equal(getattr(loaded, name + "_"), getattr(model, name + "_"))
    assert (loaded.sr_, loaded.level_, loaded.hop_) == (model.sr_, model.level_, model.hop_)
    assert np.allclose(tracks[0], style_audio, atol=1e-7)


def test_loading_something_else_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "fake.npz"
    np.savez(path, data=np.arange(3))
    with pytest.raises(ParameterError, match="not a styletransfer style model"):
        StyleModel.load(path)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, meta=np.array([{"code": 1}], dtype=object))
    with pytest.raises(ParameterError):
        StyleModel.load(pickled)


def test_learn_then_run_with_the_learnt_style(clips: dict[str, Path], content_audio: np.ndarray,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    # a stereo content meets the stereo style as it was learnt. learn streams its frames
    # (mini-batch k-means, streaming EM), run fits them in memory: the states are close,
    # not identical, so the results are close; learning again gives the same file
    sf.write(clips["content"], content_audio[[0, 0]].T * [[1.0, 0.6]], SR)
    model_path = clips["dir"] / "mystyle.npz"
    assert main(["learn", str(clips["style"]), "-o", str(model_path), "--clusters", "6",
                 "--quiet"]) == 0
    direct, learnt = clips["dir"] / "direct.wav", clips["dir"] / "learnt.wav"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "-o",
                 str(direct), "--clusters", "6", "--quiet"]) == 0
    assert main(["run", str(clips["content"]), "--style", str(model_path), "-o", str(learnt),
                 "--quiet"]) == 0
    a, _ = read(direct)
    b, _ = read(learnt)
    assert a.shape == b.shape and np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99
    again = clips["dir"] / "again.npz"
    assert main(["learn", str(clips["style"]), "-o", str(again), "--clusters", "6",
                 "--quiet"]) == 0
    assert again.read_bytes() == model_path.read_bytes()
    for mode in ("mosaic", "timbre"):  # mosaic uses the stored audio
        out = clips["dir"] / f"learnt-{mode}.wav"
        assert main(["run", str(clips["content"]), "--style", str(model_path), "-o", str(out),
                     "--mode", mode, "--levels", "6", "--quiet"]) == 0


def test_learn_a_corpus_and_play_it_as_mosaic(clips: dict[str, Path],
                                              style_audio: np.ndarray) -> None:
    second = clips["dir"] / "second.flac"
    sf.write(second, style_audio[0, ::-1], SR)
    model_path = clips["dir"] / "corpus.npz"
    assert main(["learn", str(clips["style"]), str(second), "-o", str(model_path),
                 "--quiet"]) == 0
    model, tracks = StyleModel.load(model_path)  # an index of the files, no copies
    assert tracks == [] and set(np.unique(model.track_)) == {0, 1}
    assert model.index_ is not None and [e.path for e in model.index_.entries] == [
        str(clips["style"]), str(second)]
    embedded = clips["dir"] / "embedded.npz"
    assert main(["learn", str(clips["style"]), str(second), "-o", str(embedded),
                 "--embed-audio", "--quiet"]) == 0
    assert len(StyleModel.load(embedded)[1]) == 2
    out = clips["dir"] / "corpus.wav"
    assert main(["run", str(clips["content"]), "--style", str(model_path), "-o", str(out),
                 "--preset", "mosaic", "--quiet"]) == 0
    assert sf.info(out).frames == sf.info(clips["content"]).frames


def test_learnt_style_without_audio(clips: dict[str, Path],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    model_path = clips["dir"] / "stats.npz"
    assert main(["learn", str(clips["style"]), "-o", str(model_path), "--no-audio",
                 "--quiet"]) == 0
    assert main(["run", str(clips["content"]), "--style", str(model_path), "-o",
                 str(clips["dir"] / "ok.wav"), "--quiet"]) == 0
    capsys.readouterr()
    out = clips["dir"] / "no.wav"
    assert main(["run", str(clips["content"]), "--style", str(model_path), "-o", str(out),
                 "--mode", "mosaic"]) == 2
    assert "holds no audio" in capsys.readouterr().err and not out.exists()


def test_plan_save_load_and_render_again(clips: dict[str, Path], content_audio: np.ndarray,
                                         style_audio: np.ndarray) -> None:
    for mode in ("timbre", "mosaic"):
        plan, content, style = plan_transfer(content_audio, SR, [(style_audio, SR)],
                                             settings=Settings(mode=mode))
        path = clips["dir"] / f"{mode}.npz"
        plan.save(path)
        loaded = RenderPlan.load(path)
        assert loaded.mode == mode and loaded.settings["mode"] == mode
        assert np.array_equal(loaded.gains, plan.gains)
        assert np.array_equal(loaded.segments, plan.segments)
        assert np.array_equal(render(loaded, content, style), render(plan, content, style))


def test_plan_streams_frame_by_frame(content_audio: np.ndarray, style_audio: np.ndarray) -> None:
    plan, _, _ = plan_transfer(content_audio, SR, [(style_audio, SR)],
                               settings=Settings(mode="mosaic"))
    frames = list(plan.frames())
    assert len(frames) == plan.n_frames
    assert frames[3].time == pytest.approx(3 * plan.hop / SR)
    assert np.array_equal(np.stack([f.gains for f in frames]), plan.gains)
    assert [f.segment for f in frames] == plan.segments.tolist()
    assert next(plan.frames(start=5)).index == 5
    edges = plan.band_edges()
    assert edges[0, 0] == 0 and edges[-1, 1] == SR / 2


def test_run_saves_the_plan(clips: dict[str, Path]) -> None:
    plan_path = clips["dir"] / "plan.npz"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "--save-plan",
                 str(plan_path), "--quiet"]) == 0
    plan = RenderPlan.load(plan_path)
    assert plan.sources["content"] == str(clips["content"])
    assert plan.n_samples == read(clips["content"])[0].shape[1]


def test_same_seed_gives_bit_identical_files(clips: dict[str, Path]) -> None:
    outputs = []
    for index in range(2):
        out = clips["dir"] / f"o{index}.wav"
        subprocess.run([sys.executable, "-m", "styletransfer", "run", str(clips["content"]),
                        "--style", str(clips["style"]), "-o", str(out), "--preset", "glitch",
                        "--seed", "7", "--quiet"], check=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]


def test_same_seed_same_plan_and_other_seed_other_plan(content_audio: np.ndarray,
                                                       style_audio: np.ndarray) -> None:
    def plan_for(seed: int) -> RenderPlan:
        return plan_transfer(content_audio, SR, [(style_audio, SR)],
                             settings=Settings(mode="mosaic", seed=seed, clusters=12))[0]

    first, again, other = plan_for(1), plan_for(1), plan_for(2)
    assert np.array_equal(first.gains, again.gains)
    assert np.array_equal(first.segments, again.segments)
    assert not np.array_equal(first.gains, other.gains)


def test_a_given_model_brings_its_states(content_audio: np.ndarray,
                                         style_audio: np.ndarray) -> None:
    model = StyleModel(n_states=5, seed=4).fit([analyse(style_audio[:1], SR)])
    plan, _, _ = plan_transfer(content_audio, SR, [], model=model)
    assert (plan.settings["clusters"], plan.settings["seed"]) == (5, 4)


def test_other_clusters_than_learnt_relearn_or_explain(clips: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    with_audio, without = clips["dir"] / "a.npz", clips["dir"] / "b.npz"
    assert main(["learn", str(clips["style"]), "-o", str(with_audio), "-k", "4", "-q"]) == 0
    assert main(["learn", str(clips["style"]), "-o", str(without), "-k", "4", "--no-audio",
                 "-q"]) == 0
    plan_path = clips["dir"] / "plan.npz"
    assert main(["run", str(clips["content"]), "--style", str(with_audio), "-k", "6",
                 "--save-plan", str(plan_path), "-q"]) == 0
    assert RenderPlan.load(plan_path).settings["clusters"] == 6
    capsys.readouterr()
    out = clips["dir"] / "no.wav"
    assert main(["run", str(clips["content"]), "--style", str(without), "-k", "6", "-o",
                 str(out)]) == 2
    assert "holds no audio" in capsys.readouterr().err and not out.exists()
