"""Presets (listing, overriding, malformed files) and the demo."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from styletransfer import ParameterError, RenderPlan, load_preset
from styletransfer.cli import main
from styletransfer.plot import plotting_available
from styletransfer.presets import builtin_presets


def test_at_least_four_presets_with_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == len(builtin_presets()) >= 4
    for line in lines:
        name, description = line.split(maxsplit=1)
        assert name in builtin_presets() and len(description) > 20
    modes = {load_preset(name).settings.mode for name in builtin_presets()}
    assert modes == {"timbre", "mosaic"}


def test_flags_override_the_preset(clips: dict[str, Path]) -> None:
    plan_path = clips["dir"] / "plan.npz"
    assert main(["run", str(clips["content"]), "--style", str(clips["style"]), "--preset",
                 "glitch", "--continuity", "3", "--clusters", "5", "--save-plan",
                 str(plan_path), "--quiet"]) == 0
    settings = RenderPlan.load(plan_path).settings
    assert settings["mode"] == "mosaic"  # from the preset
    assert settings["continuity"] == 3.0 and settings["clusters"] == 5  # from the flags
    assert settings["smoothing"] == load_preset("glitch").settings.smoothing


def test_preset_from_a_file(clips: dict[str, Path]) -> None:
    path = clips["dir"] / "mine.toml"
    path.write_text('description = "my own"\nmode = "mosaic"\nstrength = 0.3\n')
    preset = load_preset(str(path))
    assert preset.settings.mode == "mosaic" and preset.settings.strength == 0.3


@pytest.mark.parametrize("text, words", [
    ('description = "x"\nstrenght = 0.5\n', "unknown key 'strenght'"),
    ('description = "x"\nstrength = "high"\n', "key 'strength' must be float"),
    ('description = "x"\nclusters = 2.5\n', "key 'clusters' must be int"),
    ('description = "x"\nstrength = 4\n', "out of range"),
    ('description = "x"\nmode = "blend"\n', "--mode 'blend' is unknown"),
    ('mode = "timbre"\n', "key 'description' is missing"),
    ('description = "x"\nstrength = \n', "malformed TOML"),
])
def test_malformed_presets_name_file_and_key(tmp_path: Path, text: str, words: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=r"bad\.toml") as info:
        load_preset(str(path))
    assert words in str(info.value)
    content = tmp_path / "c.wav"
    assert main(["run", str(content), "--style", str(content), "--preset", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_demo_writes_clips_and_results(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    assert main(["demo", "-o", str(folder), "--quiet"]) == 0
    names = sorted(p.name for p in folder.iterdir())
    pictures = ["content.balanced.png", "content.mosaic.png"] if plotting_available() else []
    assert names == sorted(["content.balanced.wav", "content.mosaic.wav", "content.wav",
                            "style.wav", *pictures])
    length = sf.info(folder / "content.wav").frames
    assert all(sf.info(folder / name).frames == length for name in names
               if name.startswith("content") and name.endswith(".wav"))
    assert all((folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
               for name in names if name.endswith(".png"))
    capsys.readouterr()
    assert main(["demo", "-o", str(folder)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["demo", "-o", str(folder), "--force", "--quiet"]) == 0
