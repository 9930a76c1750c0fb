"""Dask: learning and batch runs on a real local cluster of two worker processes give what
this process gives; the command line reaches a running scheduler with --scheduler, and
starts a cluster of its own with --workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, read
from test_corpus import clip

from styletransfer import Settings
from styletransfer.cli import main
from styletransfer.cluster import QUIET_SCHEDULER, DaskRunner, LocalRunner, make_runner
from styletransfer.corpus import learn_corpus
from styletransfer.errors import ParameterError

if os.environ.get("CI") == "true":  # continuous integration installs Dask: never skip there
    import distributed
else:
    distributed = pytest.importorskip("distributed")

MODEL_FIELDS = ("means", "variances", "weights", "codebook", "labels", "transitions",
                "features", "chroma", "shape_mean", "shape_std", "mean", "scale")


@pytest.fixture(scope="module")
def cluster() -> Iterator[object]:
    """A local cluster of two worker processes, started once for the module."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  scheduler_kwargs=QUIET_SCHEDULER) as local:
        yield local


@pytest.fixture(scope="module")
def runner(cluster: object) -> Iterator[DaskRunner]:
    client = distributed.Client(cluster, set_as_default=False)
    yield DaskRunner(client)
    client.close()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask-corpus")
    for index in range(8):
        sf.write(folder / f"clip{index}.wav", clip(20 + index, seconds=2.0).T, SR)
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return folder


def test_learning_on_dask_equals_learning_here(runner: DaskRunner, corpus: Path) -> None:
    # small shards, so that the reductions really are spread over both workers
    settings = Settings(clusters=5, seed=2)
    here, skipped_here = learn_corpus([corpus], settings=settings, runner=LocalRunner(1),
                                      shard_frames=200)
    there, skipped_there = learn_corpus([corpus], settings=settings, runner=runner,
                                        shard_frames=200)
    assert [s.reason for s in skipped_there] == [s.reason for s in skipped_here]
    assert len(skipped_here) == 1 and "broken.wav" in skipped_here[0].reason
    for name in MODEL_FIELDS:
        assert np.array_equal(getattr(here, name + "_"), getattr(there, name + "_")), name
    assert here.index_ == there.index_
    assert len(runner.client.has_what()) == 2


def test_learn_on_a_scheduler_and_batch_run_on_workers(
        cluster: object, corpus: Path, tmp_path: Path, content_audio: np.ndarray,
        capsys: pytest.CaptureFixture[str]) -> None:
    address = cluster.scheduler_address  # type: ignore[attr-defined]
    on_dask, here = tmp_path / "dask.npz", tmp_path / "here.npz"
    assert main(["learn", str(corpus), "-o", str(on_dask), "-k", "4", "--scheduler", address,
                 "-q"]) == 0
    assert main(["learn", str(corpus), "-o", str(here), "-k", "4", "--jobs", "1", "-q"]) == 0
    assert on_dask.read_bytes() == here.read_bytes()
    contents = []
    for index in range(3):
        path = tmp_path / f"c{index}.wav"
        sf.write(path, np.roll(content_audio, 3000 * index, axis=1).T, SR)
        contents.append(path)
    out = tmp_path / "out"
    out.mkdir()
    capsys.readouterr()
    assert main(["run", *map(str, contents), str(corpus / "broken.wav"), "--style",
                 str(on_dask), "--mode", "mosaic", "-o", str(out), "--workers", "2",
                 "-q"]) == 1
    err = capsys.readouterr().err
    assert "broken.wav: not a readable audio file" in err and "1 of 4 contents failed" in err
    single = tmp_path / "single.wav"
    assert main(["run", str(contents[1]), "--style", str(on_dask), "--mode", "mosaic", "-o",
                 str(single), "-q"]) == 0
    assert np.array_equal(read(single)[0], read(out / "c1.styled.wav")[0])


def test_runner_options_are_checked() -> None:
    with pytest.raises(ParameterError, match="--workers 0 is out of range"):
        make_runner(workers=0)
    with pytest.raises(ParameterError, match="no Dask scheduler answers"):
        make_runner(scheduler="tcp://127.0.0.1:9", connect_seconds=1)
