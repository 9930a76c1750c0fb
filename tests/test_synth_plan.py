"""A synthesis's saved plan and its picture: ``render`` plays the plan back to the same
file, ``synth --plot`` and ``plot`` draw it without content, measured as it is written."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, read
from test_plot import PIXELS, image, lanes_of, one_line_error, png_size

from styletransfer.analysis import band_energy
from styletransfer.cli import main
from styletransfer.plan import RenderPlan
from styletransfer.plot import panel, run_figure
from styletransfer.plot_files import output_energy
from styletransfer.synth import prepare
from styletransfer.synth_files import _measured


@pytest.fixture()
def synthesis(clips: dict[str, Path]) -> dict[str, Path]:
    """Six seconds synthesised after the style clip, with its plan and picture."""
    folder = clips["dir"]
    out, plan, picture = folder / "syn.wav", folder / "syn.plan.npz", folder / "syn.png"
    code = main(["synth", str(clips["style"]), "-o", str(out), "--seconds", "6", "--seed", "3",
                 "--save-plan", str(plan), "--plot", str(picture), "-q"])
    assert code == 0
    return {**clips, "out": out, "plan": plan, "picture": picture}


def test_a_saved_synthesis_plan_renders_the_same_file(synthesis: dict[str, Path]) -> None:
    again = synthesis["dir"] / "again.wav"
    assert main(["render", str(synthesis["plan"]), "-o", str(again), "--quiet"]) == 0
    assert again.read_bytes() == synthesis["out"].read_bytes()


def test_synth_draws_the_synthesis(synthesis: dict[str, Path]) -> None:
    assert png_size(synthesis["picture"]) == PIXELS
    plan = RenderPlan.load(synthesis["plan"])
    assert plan.is_synthesis and plan.states is not None
    y, sr = read(synthesis["out"])
    assert sr == SR
    figure = run_figure(plan, None, output_energy(y, plan))
    content = panel(figure, "content")
    assert not content.images and "a synthesis" in content.texts[0].get_text()
    assert figure.texts[0].get_text().startswith("synthesis after style.wav")
    chosen = lanes_of(figure).filled(-1).max(axis=0)
    np.testing.assert_array_equal(chosen, plan.states)
    np.testing.assert_allclose(image(figure, "gains"), 20 * np.log10(plan.gains).T,
                               rtol=1e-6, atol=1e-4)
    source = panel(figure, "mosaic source").lines[0].get_ydata()
    np.testing.assert_allclose(np.asarray(source), plan.segments * plan.frame_seconds)


def test_the_plot_of_a_synthesis_plan_is_drawn_again(synthesis: dict[str, Path]) -> None:
    folder = synthesis["dir"]
    drawn, read_back = folder / "drawn.png", folder / "read.png"
    assert main(["plot", str(synthesis["plan"]), "-o", str(drawn)]) == 0
    assert main(["plot", str(synthesis["plan"]), "-o", str(read_back), "--output",
                 str(synthesis["out"])]) == 0
    assert png_size(drawn) == PIXELS and drawn.read_bytes() == read_back.read_bytes()


def test_the_output_measured_as_written_is_the_whole_files(clips: dict[str, Path]) -> None:
    y, sr = read(clips["style"])
    index = prepare([(y, sr)])
    style = index.style
    rng = np.random.default_rng(1)
    output = rng.standard_normal((y.shape[0], 50 * style.hop + 77))
    whole = band_energy(output, wavelet=style.wavelet, level=style.level, hop=style.hop,
                        bands_per_octave=style.bands_per_octave)
    for frames in (3, 9, 16):
        size = frames * style.hop
        measured: list[np.ndarray] = []
        chunks = [output[:, i: i + size] for i in range(0, output.shape[1], size)]
        assert sum(c.shape[1] for c in _measured(iter(chunks), index, measured)) == \
            output.shape[1]
        energy = np.concatenate(measured)
        assert energy.shape == whole.shape
        # the whole file's analysis wraps its ends around: its first and last frames only
        np.testing.assert_allclose(energy[2:-2], whole[2:-2], rtol=1e-6)


def test_synthesis_pictures_refuse_what_they_cannot_show(synthesis: dict[str, Path],
                                                         capsys: pytest.CaptureFixture[str],
                                                         ) -> None:
    folder = synthesis["dir"]
    capsys.readouterr()
    code = main(["plot", str(synthesis["plan"]), "-o", str(folder / "m.png"), "--measure"])
    one_line_error(code, capsys.readouterr().err, "no content")
    code = main(["render", str(synthesis["plan"]), "-o", str(folder / "c.wav"), "--content",
                 str(synthesis["content"])])
    one_line_error(code, capsys.readouterr().err, "leave out --content")
    code = main(["render", str(synthesis["plan"]), "-o", str(folder / "c.wav"),
                 "--block-seconds", "5"])
    one_line_error(code, capsys.readouterr().err, "leave out --block-seconds")
    code = main(["synth", str(synthesis["style"]), "-o", str(folder / "j.wav"), "--seconds",
                 "2", "--plot", str(folder / "j.jpg")])
    one_line_error(code, capsys.readouterr().err, "must end in .png")
    code = main(["synth", str(synthesis["style"]), "-o", str(folder / "k.wav"), "--seconds",
                 "2", "--plot", str(synthesis["picture"])])
    one_line_error(code, capsys.readouterr().err, "--force")
    assert not any(name.startswith(("m.", "c.", "j.", "k.")) for name in os.listdir(folder))


def test_the_walk_is_the_same_in_any_chunks(clips: dict[str, Path]) -> None:
    from styletransfer.synth import Synthesiser
    from styletransfer.synth_render import Prefetched
    from styletransfer.synth_settings import SynthSettings

    y, sr = read(clips["style"])
    index = prepare([(y, sr)])
    settings = SynthSettings(continuity=0.97, balance=1.0)  # long runs, cut by the calls
    whole = Synthesiser(index, settings, seed=2).next_frames(3000)
    for sizes in ((1, 7, 300, 2692), (512,) * 6):
        walk = Synthesiser(index, settings, seed=2)
        parts = [walk.next_frames(n) for n in sizes][: -(-3000 // sizes[-1]) + 3]
        gains = np.concatenate([part.gains for part in parts])[:3000]
        segments = np.concatenate([part.segments for part in parts])[:3000]
        np.testing.assert_array_equal(segments, whole.segments)
        np.testing.assert_array_equal(gains, whole.gains)
    with Prefetched(Synthesiser(index, settings, seed=2).next_frames, 3000, block=64) as ahead:
        served = [ahead(n) for n in (5, 995, 2000)]
    np.testing.assert_array_equal(np.concatenate([part.gains for part in served]), whole.gains)
    assert [part.start for part in served] == [0, 5, 1000]
