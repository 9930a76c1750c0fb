"""Corpus styles: learning from files and folders, the index of the audio, the streaming
fit, and mosaics that read back only the frames they play."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read

from styletransfer import ParameterError, RenderPlan, Settings, StyleModel, analyse
from styletransfer import sources as sources_module
from styletransfer.cli import main
from styletransfer.cluster import LocalRunner
from styletransfer.corpus import FileFeatures, corpus_files, extract, learn_corpus
from styletransfer.engine_numpy import render
from styletransfer.neighbours import CellIndex
from styletransfer.segments import read_segments
from styletransfer.sources import Grid, read_frames
from styletransfer.streaming import Shard, fit_states
from styletransfer.styles import concatenate
from styletransfer.transfer import plan_transfer


def clip(seed: int, seconds: float = 2.5, sr: int = SR, channels: int = 1) -> np.ndarray:
    """A short clip of tones and filtered noise, different for every seed."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = np.zeros_like(t)
    for start in np.arange(0, seconds, 0.25):
        f0 = 110 * 2 ** (rng.integers(0, 24) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * rng.uniform(3, 12)), 0.0)
        y += env * sum(np.sin(2 * np.pi * f0 * k * t) / k ** rng.uniform(0.8, 2)
                       for k in range(1, 6))
    noise = np.convolve(rng.standard_normal(t.size), np.ones(rng.integers(1, 8)), "same")
    y = y / np.abs(y).max() + rng.uniform(0.05, 0.3) * noise / np.abs(noise).max()
    return np.tile(0.5 * y / np.abs(y).max(), (channels, 1))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of six clips in two subfolders, with a hidden file and a text file."""
    folder = tmp_path_factory.mktemp("corpus")
    for index in range(6):
        sub = folder / ("a" if index < 3 else "b")
        sub.mkdir(exist_ok=True)
        sf.write(sub / f"clip{index}.{'wav' if index % 2 else 'flac'}", clip(index).T, SR)
    sf.write(folder / "a" / ".hidden.wav", clip(9).T, SR)
    (folder / "notes.txt").write_text("not audio\n")
    return folder


def test_folders_are_searched_for_audio(corpus: Path) -> None:
    files = corpus_files([corpus, corpus / "a" / "clip1.wav"])
    assert [f.relative_to(corpus).as_posix() for f in files] == [
        "a/clip0.flac", "a/clip1.wav", "a/clip2.flac", "b/clip3.wav", "b/clip4.flac",
        "b/clip5.wav"]
    with pytest.raises(ParameterError, match="is a learnt model"):
        corpus_files([corpus / "x.npz"])


def test_learn_a_folder_keeps_an_index(corpus: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "style.npz"
    assert main(["learn", str(corpus), "-o", str(out), "-k", "4", "--jobs", "1"]) == 0
    err = capsys.readouterr().err
    assert "learnt 4 states" in err and "of 6 files" in err and "warning" not in err
    model, tracks = StyleModel.load(out)
    assert tracks == [] and model.index_ is not None and model.chroma_ is not None
    entries = model.index_.entries
    assert [Path(e.path).name for e in entries][:2] == ["clip0.flac", "clip1.wav"]
    assert all(Path(e.path).is_absolute() and len(e.digest) == 32 for e in entries)
    assert model.features_.dtype == np.float16 and len(model.labels_) == sum(
        e.frames for e in entries)
    # the frames are those an in-memory analysis gives
    y, _ = sf.read(entries[1].path, dtype="float32", always_2d=True)
    direct = analyse(y.T, SR).features().astype(np.float16)
    offset = int(model.index_.offsets[1])
    assert np.array_equal(model.features_[offset: offset + entries[1].frames], direct)


def test_bad_files_are_skipped_or_fatal(corpus: Path, tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    bad, silent = tmp_path / "bad.wav", tmp_path / "silent.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really")
    sf.write(silent, np.zeros(SR), SR)
    good = corpus / "a" / "clip0.flac"
    out = tmp_path / "m.npz"
    assert main(["learn", str(good), str(bad), str(silent), str(tmp_path / "gone.wav"), "-o",
                 str(out), "-k", "3", "-q"]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("styletransfer: warning: ") for line in lines)
    assert "bad.wav: not a readable audio file" in lines[0] and "is silent" in lines[1]
    assert "no such file" in lines[2] and lines[3].endswith("skipped 3 of 4 files")
    assert len(StyleModel.load(out)[0].index_.entries) == 1  # type: ignore[union-attr]
    out.unlink()
    assert main(["learn", str(good), str(bad), "-o", str(out), "--strict", "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "bad.wav: not a readable" in err
    assert not out.exists()
    assert main(["learn", str(bad), str(silent), "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "none of the 2 files" in err
    assert not out.exists()


def test_learning_is_deterministic_wherever_it_runs(corpus: Path) -> None:
    settings = Settings(clusters=5, seed=3)
    here, _ = learn_corpus([corpus], settings=settings, runner=LocalRunner(1))
    pool = LocalRunner(2)
    try:
        there, _ = learn_corpus([corpus], settings=settings, runner=pool)
    finally:
        pool.close()
    for name in ("means", "variances", "weights", "codebook", "labels", "transitions",
                 "features", "shape_mean", "shape_std"):
        assert np.array_equal(getattr(here, name + "_"), getattr(there, name + "_")), name
    other, _ = learn_corpus([corpus], settings=Settings(clusters=5, seed=4))
    assert not np.array_equal(here.means_, other.means_)


def test_streaming_em_is_the_batch_mixture() -> None:
    """From the same start, the streaming EM over shards reaches the log-likelihood of
    scikit-learn's batch GaussianMixture."""
    from sklearn.mixture import GaussianMixture

    rng = np.random.default_rng(0)
    centres = rng.standard_normal((4, 5)) * 3
    rows = np.vstack([c + rng.standard_normal((700, 5)) * rng.uniform(0.5, 2, 5)
                      for c in centres]).astype(np.float16)
    rows = rows[rng.permutation(len(rows))]
    shards = [Shard(np.asfortranarray(rows[i:i + 600]), np.array([0]), n)
              for n, i in enumerate(range(0, len(rows), 600))]

    def run(function, **arguments):  # type: ignore[no-untyped-def]
        return [function(shard, **arguments) for shard in shards]

    sizes = [s.n_frames for s in shards]
    start = fit_states(run, sizes, n_states=4, n_bands=2, max_iter=0)
    fitted = fit_states(run, sizes, n_states=4, n_bands=2)
    z = (rows.astype(np.float64) - start.mean) / start.scale
    batch = GaussianMixture(4, covariance_type="diag", reg_covar=1e-3, max_iter=100,
                            weights_init=start.weights, means_init=start.means,
                            precisions_init=1 / start.variances, random_state=0).fit(z)
    assert batch.n_iter_ == fitted.n_iter
    assert abs(batch.score(z) - fitted.log_likelihood) <= 1e-6 * abs(batch.score(z))
    assert np.allclose(batch.means_, fitted.means, atol=1e-8)
    assert np.array_equal(batch.predict(z), fitted.labels)


@pytest.fixture(scope="module")
def learnt(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("learnt") / "corpus.npz"
    assert main(["learn", str(corpus), "-o", str(path), "-k", "4", "-q", "--jobs", "1"]) == 0
    return path


@pytest.mark.parametrize("pitch", [0.0, 4.0])
def test_corpus_mosaic_reads_only_what_it_plays(learnt: Path, content_audio: np.ndarray,
                                                monkeypatch: pytest.MonkeyPatch,
                                                pitch: float) -> None:
    """The mosaic reads the chosen frames back from the files, and sounds exactly as the
    same plan rendered from an analysis of all of the corpus's audio."""
    model, _ = StyleModel.load(learnt)
    assert model.index_ is not None
    reads: list[tuple[str, list[tuple[int, int]]]] = []
    original = sources_module.read_frames

    def counting(entry, grid, ranges, *, source):  # type: ignore[no-untyped-def]
        reads.append((entry.path, ranges))
        return original(entry, grid, ranges, source=source)

    monkeypatch.setattr("styletransfer.segments.read_frames", counting)
    settings = Settings(mode="mosaic", clusters=4, pitch=pitch)
    plan, _, style = plan_transfer(content_audio, SR, [], settings=settings, model=model)
    read_count = sum(hi - lo for _, ranges in reads for lo, hi in ranges)
    assert read_count < 0.8 * model.index_.n_frames
    assert plan.segments.max() < model.index_.n_frames
    content = analyse(content_audio, SR)
    everything = concatenate([analyse(sf.read(e.path, dtype="float32", always_2d=True)[0].T,
                                      SR) for e in model.index_.entries])
    assert style is not None
    direct = render(plan, content, everything)
    from_files = render(style.localise(plan), content, style)  # type: ignore[attr-defined]
    assert np.allclose(from_files, direct, rtol=0, atol=1e-6 * np.abs(direct).max())


def test_corpus_mosaic_runs_saves_and_renders(learnt: Path, clips: dict[str, Path]) -> None:
    out, plan_path = clips["dir"] / "m.wav", clips["dir"] / "m.plan.npz"
    assert main(["run", str(clips["content"]), "--style", str(learnt), "--preset", "mosaic",
                 "-o", str(out), "--save-plan", str(plan_path), "-q"]) == 0
    again = clips["dir"] / "again.wav"
    assert main(["render", str(plan_path), "-o", str(again), "-q"]) == 0
    assert np.array_equal(read(out)[0], read(again)[0])
    assert RenderPlan.load(plan_path).segments.max() >= 0
    code = main(["run", str(clips["content"]), "--style", str(learnt), "--preset", "melodic",
                 "-o", str(clips["dir"] / "t.wav"), "-q"])
    assert code == 0  # a small corpus is read into memory to transpose it


def test_frame_targets_from_a_corpus(learnt: Path, content_audio: np.ndarray,
                                     clips: dict[str, Path]) -> None:
    """Timbre mode's frame targets from a corpus: the band shapes of the frames the search
    picks, read back from the files, equal those of an analysis of all of its audio."""
    from styletransfer.mapping import map_content, search_segments
    from styletransfer.segments import corpus_frame_targets, corpus_frames

    model, _ = StyleModel.load(learnt)
    assert model.index_ is not None
    settings = Settings(targets="frames", clusters=4, pitch=4.0, onset_jumps=0.9)
    content = analyse(content_audio, SR)
    mapping = map_content(content, model, smoothing=settings.smoothing, seed=settings.seed)
    targets = corpus_frame_targets(content, model, mapping, settings)
    segments = search_segments(content, model, mapping.target_features,
                               corpus_frames(model, pitch=True), continuity=1.0, pitch=4.0,
                               onset_jumps=0.9)
    everything = concatenate([analyse(sf.read(e.path, dtype="float32", always_2d=True)[0].T,
                                      SR) for e in model.index_.entries])
    assert np.allclose(targets, everything.band_shape()[segments], atol=1e-6)
    out = clips["dir"] / "i.wav"
    assert main(["run", str(clips["content"]), "--style", str(learnt), "--preset",
                 "instrument", "--transpose", "0", "-o", str(out), "-q"]) == 0
    assert read(out)[0].shape == read(clips["content"])[0].shape


def test_synth_from_a_corpus(learnt: Path, tmp_path: Path) -> None:
    """A style learnt as an index of its files synthesises from their audio, read back."""
    out = tmp_path / "synth.wav"
    assert main(["synth", str(learnt), "-o", str(out), "--seconds", "2", "-q"]) == 0
    y, sr = read(out)
    assert sr == SR and y.shape[1] == 2 * SR and np.all(np.isfinite(y))


@pytest.mark.parametrize("change", ["missing", "changed"])
def test_a_missing_or_changed_source_is_named(corpus: Path, tmp_path: Path, change: str,
                                              clips: dict[str, Path],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for path in sorted(corpus.glob("*/*.wav")):
        (folder / path.name).write_bytes(path.read_bytes())
    model_path = tmp_path / "m.npz"
    assert main(["learn", str(folder), "-o", str(model_path), "-k", "3", "-q"]) == 0
    victim = folder / "clip3.wav"
    if change == "missing":
        victim.unlink()
    else:
        data = bytearray(victim.read_bytes())
        data[-2:] = b"\x01\x02"  # same size, other samples
        victim.write_bytes(bytes(data))
    out = tmp_path / "out.wav"
    capsys.readouterr()
    assert main(["run", str(clips["content"]), "--style", str(model_path), "--mode", "mosaic",
                 "--continuity", "0", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(victim) in err, err
    assert ("is missing" if change == "missing" else "has changed") in err
    assert not out.exists()


@pytest.mark.parametrize("rate", [SR, 44100])
def test_frames_read_back_equal_the_whole_files(tmp_path: Path, rate: int,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A long file is analysed in blocks, and ranges are read with their context: the
    frames equal those of an analysis of the whole file (resampled files: to 1e-5)."""
    monkeypatch.setattr(sources_module, "WHOLE_FRAMES", 64)
    monkeypatch.setattr(sources_module, "BLOCK_FRAMES", 50)
    monkeypatch.setattr("styletransfer.corpus.WHOLE_FRAMES", 64)
    path = tmp_path / "long.wav"
    sf.write(path, clip(5, seconds=6.0, sr=rate, channels=2).T, rate, subtype="FLOAT")
    grid = Grid(SR, 2, "sym12", 7, 512)
    found = extract(path, grid)
    assert isinstance(found, FileFeatures), found
    y, _ = sf.read(path, dtype="float32", always_2d=True)
    from styletransfer.audio import resample

    whole = analyse(resample(y.T, rate, SR), SR)
    margin = grid.context_frames()
    inner = slice(margin, whole.n_frames - margin)
    tolerance = 0 if rate == SR else 1e-5
    blocks = found.features.astype(np.float64)
    assert np.allclose(blocks[inner], whole.features().astype(np.float16)[inner],
                       atol=max(tolerance, 1e-12) * 1e3)
    entry = found.entry
    parts = read_frames(entry, grid, [(20, 31), (90, 120)], source="m.npz")
    for part, (lo, hi) in zip(parts, [(20, 31), (90, 120)], strict=True):
        for band, want, size in zip(part.coeffs, whole.coeffs, whole.band_sizes(),
                                    strict=True):
            expected = want[:, lo * size: hi * size]
            assert np.allclose(band, expected, rtol=0,
                               atol=tolerance * np.abs(want).max() + 1e-7), (lo, size)


def test_hostile_indexes_are_refused(learnt: Path, tmp_path: Path) -> None:
    with np.load(learnt) as data:
        members = {name: np.array(data[name]) for name in data.files}
    cases = {
        "relative path": ("index_paths", lambda a: np.array(["x.wav"] * len(a))),
        "offsets": ("index_offsets", lambda a: a[::-1].copy()),
        "hash": ("index_digests", lambda a: np.array(["zz"] * len(a))),
        "samples": ("index_samples", lambda a: a + 100_000),
        "chroma": ("chroma", lambda a: a + 100),
        "partial": ("index_bytes", None),
    }
    for case, (name, change) in cases.items():
        changed = dict(members)
        if change is None:
            del changed[name]
        else:
            changed[name] = change(members[name])
        path = tmp_path / f"{case.replace(' ', '_')}.npz"
        np.savez(path, **cast(dict[str, Any], changed))
        with pytest.raises(ParameterError, match=str(path)) as caught:
            StyleModel.load(path)
        assert "\n" not in str(caught.value), case
    meta = json.loads(str(members["meta"]))
    meta["n_files"] = 99
    renamed: dict[str, Any] = {**members, "meta": np.array(json.dumps(meta))}
    np.savez(tmp_path / "n.npz", **renamed)
    with pytest.raises(ParameterError, match="n_files"):
        StyleModel.load(tmp_path / "n.npz")


def test_segments_outside_the_corpus_are_refused(learnt: Path) -> None:
    model, _ = StyleModel.load(learnt)
    with pytest.raises(ParameterError, match="does not have"):
        read_segments(model, np.array([10**9]), n_channels=1)


def test_the_cell_index_finds_the_nearest() -> None:
    rng = np.random.default_rng(1)
    points = np.vstack([c + rng.standard_normal((2000, 6)) for c in rng.normal(0, 4, (8, 6))])
    queries = points[rng.choice(len(points), 200)] + 0.2 * rng.standard_normal((200, 6))
    distances, found = CellIndex(points, cells=64, seed=0).query(queries, 5)
    exact = np.argsort(((points[None] - queries[:, None]) ** 2).sum(axis=2), axis=1)[:, :5]
    recall = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(found, exact, strict=True)])
    assert recall > 0.9 and np.all(np.diff(distances, axis=1) >= 0)
    assert np.allclose(distances[:, 0], np.linalg.norm(points[found[:, 0]] - queries, axis=1))
