"""Pictures of a run and of the measures: what they show, checked through the figure."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
from conftest import SR

from styletransfer import RenderPlan, Settings, plan_transfer
from styletransfer.analysis import analyse
from styletransfer.cli import main
from styletransfer.plot import (
    DPI,
    FIGSIZE,
    MISSING_MATPLOTLIB,
    PANELS,
    panel,
    panel_names,
    run_figure,
    save_png,
    write_run_png,
)
from styletransfer.transfer import render_plan

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@pytest.fixture(autouse=True)
def _matplotlib() -> None:
    """Skip without matplotlib, except on CI (``CI=true``), where a missing extra fails."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        reason = "matplotlib not found: install the plot extra (pip install -e '.[dev,plot]')"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


PIXELS = (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image(figure: Figure, name: str) -> np.ndarray:
    """The data of the first image in the panel ``name``."""
    data = panel(figure, name).images[0].get_array()
    assert data is not None
    return np.asarray(data) if not isinstance(data, np.ma.MaskedArray) else data


def lanes_of(figure: Figure) -> np.ma.MaskedArray:
    data = panel(figure, "states").images[0].get_array()
    assert isinstance(data, np.ma.MaskedArray)
    return data


def one_line_error(code: int, err: str, words: str) -> None:
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and words in err, err


@pytest.fixture(scope="module", params=["timbre", "mosaic"])
def run(request: pytest.FixtureRequest, content_audio: np.ndarray,
        style_audio: np.ndarray) -> tuple[RenderPlan, np.ndarray, np.ndarray, np.ndarray]:
    """A plan of each mode, with the band energy of content, output and style."""
    plan, content, style = plan_transfer(content_audio, SR, [(style_audio, SR)],
                                         settings=Settings(mode=request.param, clusters=4),
                                         sources={"content": "c.wav", "styles": ["s.wav"]})
    output = analyse(render_plan(plan, content, style), SR, wavelet=plan.wavelet,
                     level=plan.level, hop=plan.hop).energy
    if style is None:
        style = analyse(style_audio, SR, wavelet=plan.wavelet, level=plan.level, hop=plan.hop)
    return plan, content.energy, output, style.energy


def test_every_panel_is_there_at_a_fixed_size(run: tuple[RenderPlan, np.ndarray, np.ndarray,
                                                         np.ndarray], tmp_path: Path) -> None:
    plan, content, output, style = run
    figure = run_figure(plan, content, output, style, measures={"onset_corr": 0.9})
    wanted = set(PANELS) - ({"mosaic source"} if plan.mode == "timbre" else set())
    assert set(panel_names(figure)) == wanted
    assert figure.canvas.get_width_height() == PIXELS
    path = save_png(figure, tmp_path / "run.png")
    assert png_size(path) == PIXELS
    assert "onsets kept 0.90" in str(figure.get_suptitle())
    assert panel(figure, "content").get_ylabel() == "band edges (Hz)"
    last = "mosaic source" if plan.mode == "mosaic" else "states"
    assert panel(figure, last).get_xlabel() == "time (s)"
    assert panel(figure, "content").get_xlabel() == ""


def test_panels_hold_the_plan(run: tuple[RenderPlan, np.ndarray, np.ndarray,
                                         np.ndarray]) -> None:
    plan, content, output, style = run
    assert plan.states is not None and plan.state_shapes is not None
    figure = run_figure(plan, content, output, style)
    lanes = lanes_of(figure)
    assert lanes.shape == (len(plan.state_shapes), plan.n_frames)
    np.testing.assert_array_equal(lanes.filled(-1).max(axis=0), plan.states)
    gains = image(figure, "gains")
    np.testing.assert_allclose(gains, 20 * np.log10(plan.gains).T, rtol=1e-6, atol=1e-4)
    norm = panel(figure, "gains").images[0].norm
    assert np.asarray(norm(np.zeros(1))).tolist() == [0.5]  # 0 dB: the middle of the map, white
    assert norm.vmin is not None and norm.vmax is not None
    assert norm.vmin <= gains.min() and norm.vmax >= gains.max()
    shown = image(figure, "content")
    db = 10 * np.log10(np.maximum(content, 1e-12 * content.max()) / content.max())
    np.testing.assert_allclose(shown, np.maximum(db, -70).T, rtol=1e-6, atol=1e-4)
    if plan.mode == "mosaic":
        source = panel(figure, "mosaic source").lines[0].get_ydata()
        np.testing.assert_allclose(np.asarray(source), plan.segments * plan.frame_seconds)


def test_same_inputs_same_bytes(run: tuple[RenderPlan, np.ndarray, np.ndarray, np.ndarray],
                                tmp_path: Path) -> None:
    plan, content, output, style = run
    first = save_png(run_figure(plan, content, output, style), tmp_path / "a.png")
    second = save_png(run_figure(plan, content, output, style), tmp_path / "b.png")
    assert digest(first) == digest(second)


def test_drawing_the_output_last_gives_the_same_bytes(
        run: tuple[RenderPlan, np.ndarray, np.ndarray, np.ndarray], tmp_path: Path) -> None:
    plan, content, output, style = run
    whole = save_png(run_figure(plan, content, output, style), tmp_path / "whole.png")
    asked: list[str] = []

    def measured() -> np.ndarray:
        asked.append("output")
        return output

    figure = write_run_png(tmp_path / "last.png", plan, content, measured, style)
    assert asked == ["output"]
    assert digest(tmp_path / "last.png") == digest(whole)
    np.testing.assert_array_equal(image(figure, "output"), image(run_figure(
        plan, content, output, style), "output"))
    write_run_png(tmp_path / "other.png", plan, content, lambda: output[::-1], style)
    assert digest(tmp_path / "other.png") != digest(whole)  # the output's image is drawn


def test_long_runs_are_drawn_at_most_2000_columns_wide() -> None:
    rng = np.random.default_rng(0)
    n_frames, n_bands = 7752, 9
    plan = RenderPlan(mode="timbre", sr=44100, n_samples=n_frames * 1024, n_channels=2,
                      wavelet="sym12", level=8, hop=1024,
                      gains=rng.uniform(0.2, 4.0, (n_frames, n_bands)).astype(np.float32),
                      segments=np.full(n_frames, -1, dtype=np.int64),
                      states=np.repeat(np.arange(8), n_frames // 8 + 1)[:n_frames],
                      state_shapes=np.full((8, n_bands), -2.2, dtype=np.float32))
    energy = rng.uniform(0.1, 1.0, (n_frames, n_bands))
    figure = run_figure(plan, energy, energy, energy[:2000])
    for name in ("content", "gains", "states"):
        assert image(figure, name).shape[1] == 1938
    lanes = lanes_of(figure)
    assert lanes.filled(-1).max(axis=0)[::250].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_a_plan_without_states_or_style_audio_is_drawn(
        run: tuple[RenderPlan, np.ndarray, np.ndarray, np.ndarray]) -> None:
    plan, content, output, _ = run
    older = dataclasses.replace(plan, states=None, state_shapes=None)  # saved before states
    figure = run_figure(older, content, output, None)
    assert not panel(figure, "states").images and not panel(figure, "style").images
    assert "records no states" in panel(figure, "states").texts[0].get_text()


def test_run_and_plot_commands_write_the_picture(clips: dict[str, Path]) -> None:
    folder = clips["dir"]
    out, plan, picture = folder / "out.wav", folder / "out.plan.npz", folder / "out.png"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "--preset",
                 "mosaic", "-k", "4", "-o", str(out), "--save-plan", str(plan), "--plot",
                 str(picture), "--quiet"]) == 0
    assert png_size(picture) == PIXELS
    again, rendered = folder / "again.png", folder / "rendered.png"
    assert main(["plot", str(plan), "-o", str(again), "--output", str(out)]) == 0
    assert main(["plot", str(plan), "-o", str(rendered)]) == 0  # the plan rendered here
    assert png_size(again) == png_size(rendered) == PIXELS
    before = digest(again)
    assert main(["plot", str(plan), "-o", str(again), "--output", str(out), "--force"]) == 0
    assert digest(again) == before


def test_evaluate_draws_the_measures(clips: dict[str, Path]) -> None:
    from styletransfer.evaluate import evaluate
    from styletransfer.plot_measures import measures_figure

    picture = clips["dir"] / "measures.png"
    assert main(["evaluate", "-c", str(clips["content"]), "-s", str(clips["style"]), "-o",
                 str(clips["style"]), "--plot", str(picture), "--json"]) == 0
    assert png_size(picture) == PIXELS
    rng = np.random.default_rng(1)
    content = rng.standard_normal((1, SR)) * 0.1
    style, output = content[:, ::-1].copy(), content * 0.5
    tracks = {"content": (content, SR), "style": (style, SR), "output": (output, SR),
              "truth": (content, SR)}
    measures = evaluate(content, style, output, SR, truth=content)
    figure = measures_figure(tracks, measures)
    assert set(panel_names(figure)) == {"onsets", "chroma content", "chroma output",
                                        "chroma truth", "chroma style", "mfcc", "measures"}
    assert [line.get_label() for line in panel(figure, "onsets").lines] == [
        "content", "output", "truth"]
    assert "style gain (MFCC)" in str(figure.get_suptitle())


def test_bad_picture_arguments(clips: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    content, style, folder = str(clips["content"]), str(clips["style"]), clips["dir"]
    plan = folder / "p.npz"
    assert main(["run", content, "--style", style, "-k", "3", "-o", str(folder / "o.wav"),
                 "--save-plan", str(plan), "--quiet"]) == 0
    capsys.readouterr()
    existing = folder / "old.png"
    existing.write_bytes(b"keep me")
    kept = sorted(p.name for p in folder.iterdir())
    cases = [
        (["run", content, "--style", style, "-o", str(folder / "x.wav"), "--plot",
          str(folder / "x.jpg")], "x.jpg: a picture must end in .png"),
        (["run", content, "--style", style, "-o", str(folder / "x.wav"), "--plot",
          str(existing)], "old.png: already exists: pass --force"),
        (["run", content, "--style", style, "-o", str(folder / "x.wav"), "--measure"],
         "--measure goes with --plot"),
        (["plot", str(plan), "-o", str(folder / "x.pdf")], "must end in .png"),
        (["plot", str(plan), "-o", str(existing)], "already exists: pass --force"),
        (["plot", str(plan), "-o", str(folder / "none" / "x.png")], "does not exist"),
        (["plot", str(plan), "-o", str(folder / "x.png"), "--content", style],
         "is not the content of this plan"),
        (["plot", str(plan), "-o", str(folder / "x.png"), "--output", style],
         "is not an output of this plan"),
        (["plot", str(folder / "missing.npz"), "-o", str(folder / "x.png")], "no such file"),
        (["plot", str(plan)], "the following arguments are required: -o"),
        (["evaluate", "-c", content, "-s", style, "-o", style, "--plot", str(existing)],
         "already exists: pass --force"),
        (["evaluate", "-c", content, "-s", style, "-o", style, "--plot",
          str(folder / "m.svg")], "must end in .png"),
    ]
    for args, words in cases:
        code = main(args)
        one_line_error(code, capsys.readouterr().err, words)
    assert sorted(p.name for p in folder.iterdir()) == kept
    assert existing.read_bytes() == b"keep me"


def test_without_matplotlib_every_plot_option_says_how_to_get_it(
        clips: dict[str, Path]) -> None:
    content, style, folder = str(clips["content"]), str(clips["style"]), clips["dir"]
    plan = folder / "p.npz"
    assert main(["run", content, "--style", style, "-k", "3", "-o", str(folder / "o.wav"),
                 "--save-plan", str(plan), "--quiet"]) == 0
    before = sorted(p.name for p in folder.iterdir())
    commands = [
        ["run", content, "--style", style, "-o", str(folder / "x.wav"), "--plot",
         str(folder / "x.png")],
        ["plot", str(plan), "-o", str(folder / "x.png")],
        ["evaluate", "-c", content, "-s", style, "-o", style, "--plot", str(folder / "x.png")],
        ["demo", "-o", str(folder / "demo")],
    ]
    script = ("import sys; sys.modules['matplotlib'] = None\n"
              "from styletransfer.cli import main\n"
              f"for args in {commands!r}:\n"
              "    print(main(args))\n"
              "    sys.stderr.flush()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          check=False, cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[:3] == ["2", "2", "2"] and done.stdout.split()[-1] == "0"
    line = f"styletransfer: error: {MISSING_MATPLOTLIB}"
    assert done.stderr.splitlines() == [line] * 3 + [
        f"styletransfer: no pictures drawn: {MISSING_MATPLOTLIB}"]  # the demo still works
    assert MISSING_MATPLOTLIB == ("plotting needs matplotlib: pip install "
                                  "'aioli-styletransfer[plot]'")
    assert sorted(p.name for p in folder.iterdir()) == sorted([*before, "demo"])
    assert not list((folder / "demo").glob("*.png"))
