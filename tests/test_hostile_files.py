"""Hostile model, plan and preset files: each is refused with one line naming the file
(exit 2), or loads as a valid object; nothing is unpickled, nothing hangs, and a member
the format does not define is never decompressed."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import SR
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from styletransfer import ParameterError, RenderPlan, StyleModel, analyse
from styletransfer.cli import main
from styletransfer.presets import load_preset
from styletransfer.transfer import plan_transfer

FUZZ = settings(max_examples=60, deadline=5000,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])


@pytest.fixture(scope="module")
def good_files(tmp_path_factory: pytest.TempPathFactory, content_audio: np.ndarray,
               style_audio: np.ndarray) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("good")
    model = StyleModel(n_states=4).fit([analyse(style_audio, SR)])
    model.save(folder / "model.npz", audio=[style_audio])
    for mode in ("timbre", "mosaic"):
        from styletransfer import Settings

        plan, _, _ = plan_transfer(content_audio, SR, [(style_audio, SR)],
                                   settings=Settings(mode=mode, clusters=4))
        plan.save(folder / f"{mode}.npz")
    return {"model": folder / "model.npz", "timbre": folder / "timbre.npz",
            "mosaic": folder / "mosaic.npz"}


def members(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {name: np.array(data[name]) for name in data.files}


def rewrite(source: Path, target: Path, change: Any) -> Path:
    """``source``'s members, changed by ``change(meta dict, arrays dict)``, saved as ``target``."""
    arrays = members(source)
    meta = json.loads(str(arrays.pop("meta")))
    raw = change(meta, arrays)  # a change may return the metadata's text itself
    text = raw if isinstance(raw, str) else json.dumps(meta)
    with open(target, "wb") as handle:
        payload: dict[str, Any] = {"meta": np.array(text), **arrays}
        np.savez(handle, **payload)
    return target


def load_any(kind: str, path: Path) -> object:
    return StyleModel.load(path) if kind == "model" else RenderPlan.load(path)


def set_meta(key: str, value: Any) -> Any:
    return lambda meta, arrays: meta.__setitem__(key, value)


def set_array(key: str, value: Any) -> Any:
    return lambda meta, arrays: arrays.__setitem__(key, value)


MODEL_CASES = {
    "version abc": set_meta("version", "abc"),
    "version null": set_meta("version", None),
    "version newer": set_meta("version", 99),
    "sr 0": set_meta("sr", 0),
    "sr negative": set_meta("sr", -44100),
    "hop 0": set_meta("hop", 0),
    "level huge": set_meta("level", 10**400),
    "wavelet unknown": set_meta("wavelet", "nope"),
    "n_bands wrong": set_meta("n_bands", 3),
    "n_tracks beyond": set_meta("n_tracks", 5),
    "means wrong shape": lambda m, a: a.__setitem__("means", a["means"][:, :3]),
    "labels as text": set_array("labels", np.array(["a", "b"])),
    "means complex": lambda m, a: a.__setitem__("means", a["means"] * (1 + 1j)),
    "means NaN": lambda m, a: a.__setitem__("means", a["means"] * np.nan),
    "shape_mean NaN": lambda m, a: a.__setitem__("shape_mean", a["shape_mean"] * np.nan),
    "shape_mean huge": lambda m, a: a.__setitem__("shape_mean", a["shape_mean"] * 1e300),
    "variances zero": lambda m, a: a.__setitem__("variances", a["variances"] * 0),
    "labels beyond states": lambda m, a: a.__setitem__("labels", a["labels"] + 10),
    "transitions not rows": lambda m, a: a.__setitem__("transitions",
                                                       a["transitions"] * 2),
    "audio NaN": lambda m, a: a.__setitem__("audio_0", a["audio_0"] * np.nan),
    "unknown member": set_array("extra", np.zeros(3)),
    "missing member": lambda m, a: a.pop("weights"),
    "deep meta": lambda m, a: json.dumps(m)[:-1] + ', "deep": ' + "[" * 100_000
    + "]" * 100_000 + "}",
    "meta not an object": lambda m, a: "[1, 2]",
    "meta NaN": lambda m, a: json.dumps(m)[:-1] + ', "x": NaN}',
    "version 1e400": lambda m, a: json.dumps({**m, "version": 0})[:-1].replace(
        '"version": 0', '"version": 1e400') + "}",
}
PLAN_CASES = {
    "version abc": set_meta("version", "abc"),
    "mode unknown": set_meta("mode", "remix"),
    "sr 0": set_meta("sr", 0),
    "n_samples 0": set_meta("n_samples", 0),
    "n_samples huge": set_meta("n_samples", 10**12),
    "hop 0": set_meta("hop", 0),
    "shifts beyond": set_meta("shifts", 10**6),
    "envelope NaN text": set_meta("envelope", "NaN"),
    "sources not paths": set_meta("sources", {"content": 3}),
    "transpose 99": set_meta("settings", {"transpose": 99}),
    "gains NaN": lambda m, a: a.__setitem__("gains", a["gains"] * np.nan),
    "gains inf": lambda m, a: a.__setitem__("gains", a["gains"] * np.inf),
    "gains negative": lambda m, a: a.__setitem__("gains", -a["gains"]),
    "gains wrong shape": lambda m, a: a.__setitem__("gains", a["gains"][:, :2]),
    "segments in timbre": set_array("segments", np.zeros(1, dtype=np.int64)),
}


@pytest.mark.parametrize("case", sorted(MODEL_CASES))
def test_malformed_models_are_refused(case: str, good_files: dict[str, Path],
                                      tmp_path: Path) -> None:
    bad = rewrite(good_files["model"], tmp_path / "bad.npz", MODEL_CASES[case])
    with pytest.raises(ParameterError) as caught:
        StyleModel.load(bad)
    message = str(caught.value)
    assert message.startswith(str(bad)) and "\n" not in message, message


@pytest.mark.parametrize("case", sorted(PLAN_CASES))
def test_malformed_plans_are_refused(case: str, good_files: dict[str, Path],
                                     tmp_path: Path) -> None:
    bad = rewrite(good_files["timbre"], tmp_path / "bad.npz", PLAN_CASES[case])
    with pytest.raises(ParameterError) as caught:
        RenderPlan.load(bad)
    message = str(caught.value)
    assert message.startswith(str(bad)) and "\n" not in message, message


def test_bad_model_fields_are_named_on_the_command_line(good_files: dict[str, Path],
                                                       clips: dict[str, Path],
                                                       capsys: pytest.CaptureFixture[str],
                                                       ) -> None:
    """A model's own bad wavelet or depth is reported as its field, not as an option."""
    for key, value in (("wavelet", "nope"), ("level", 99), ("sr", 0)):
        bad = rewrite(good_files["model"], clips["dir"] / f"{key}.npz", set_meta(key, value))
        out = clips["dir"] / "out.wav"
        assert main(["run", str(clips["content"]), "--style", str(bad), "-o", str(out)]) == 2
        err = capsys.readouterr().err
        assert f"field '{key}'" in err and str(bad) in err and "--" not in err.split(":")[2]
        assert len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.mark.parametrize("kind", ["model", "plan"])
def test_not_archives_never_suggest_unpickling(kind: str, good_files: dict[str, Path],
                                               clips: dict[str, Path], tmp_path: Path) -> None:
    source = good_files["model" if kind == "model" else "timbre"]
    cases = {
        "truncated.npz": source.read_bytes()[: source.stat().st_size // 2],
        "wav.npz": clips["content"].read_bytes(),
        "random.npz": np.random.default_rng(0).bytes(5000),
        "empty.npz": b"",
    }
    buffer = io.BytesIO()
    np.save(buffer, np.arange(4))
    cases["npy.npz"] = buffer.getvalue()
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(ParameterError) as caught:
            load_any(kind, path)
        message = str(caught.value)
        assert message.startswith(str(path)) and "pickl" not in message.lower(), message
        assert "not a styletransfer" in message or "not a readable" in message, message


def test_pickled_members_are_never_run(good_files: dict[str, Path], tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[str]]:
            return (os.system, (f"touch {marker}",))

    for kind, source in (("model", good_files["model"]), ("plan", good_files["timbre"])):
        for key in ("meta", "gains" if kind == "plan" else "means", "audio_9"):
            path = tmp_path / f"{kind}-{key}.npz"
            payload: dict[str, Any] = members(source)
            payload[key] = np.array([Payload()], dtype=object)
            with open(path, "wb") as handle:
                np.savez(handle, **payload)  # numpy pickles object arrays
            with pytest.raises(ParameterError):
                load_any(kind, path)
    assert not marker.exists()


def test_unused_member_is_never_decompressed(good_files: dict[str, Path],
                                             tmp_path: Path) -> None:
    """A 2.5 MB file with a 2 GB member of zeros: refused at once, in little memory."""
    import resource

    bomb = tmp_path / "bomb.npz"
    bomb.write_bytes(good_files["model"].read_bytes())
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (2**28,)})
    with zipfile.ZipFile(bomb, "a", compression=zipfile.ZIP_DEFLATED) as archive, \
            archive.open("padding.npy", "w", force_zip64=True) as member:
        member.write(header.getvalue())
        zeros = bytes(2**24)
        for _ in range(2**31 // 2**24):
            member.write(zeros)
    assert bomb.stat().st_size < 5e6
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with pytest.raises(ParameterError, match="unknown member 'padding'"):
        StyleModel.load(bomb)
    assert time.perf_counter() - started < 2.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_member_larger_than_its_header_says_is_refused(good_files: dict[str, Path],
                                                       tmp_path: Path) -> None:
    """A defined member whose data runs on past what its numpy header declares."""
    arrays = members(good_files["timbre"])
    path = tmp_path / "long.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            data = io.BytesIO()
            np.save(data, array)
            extra = bytes(2**20) if name == "gains" else b""
            archive.writestr(f"{name}.npy", data.getvalue() + extra)
    with pytest.raises(ParameterError, match=r"member 'gains' declares .* bytes"):
        RenderPlan.load(path)


def _mutations() -> st.SearchStrategy[tuple[str, Any]]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
        | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                    inner, max_size=4),
        max_leaves=10)
    arrays = st.sampled_from([np.zeros(0), np.arange(5), np.ones((3, 3)), np.array([np.nan]),
                              np.array(["x"]), np.full((2, 2), 1e300), np.array([-1, 2**40])])
    return st.one_of(
        st.tuples(st.just("meta"), st.tuples(st.text(max_size=20), json_values)),
        st.tuples(st.just("array"), st.tuples(st.text(max_size=12), arrays)),
        st.tuples(st.just("bytes"), st.tuples(st.integers(0, 10**6),
                                              st.binary(min_size=1, max_size=64))),
    )


def _mutate(source: Path, target: Path, mutation: tuple[str, Any]) -> Path:
    kind, (key, value) = mutation
    if kind == "bytes":
        data = bytearray(source.read_bytes())
        offset = key % len(data)
        data[offset: offset + len(value)] = value
        target.write_bytes(bytes(data))
        return target
    known = list(members(source))
    if kind == "meta":
        meta_keys = list(json.loads(str(members(source)["meta"])))
        key = meta_keys[hash(key) % len(meta_keys)] if key.isascii() and key else key
        return rewrite(source, target, set_meta(key, value))
    name = known[hash(key) % len(known)] if key.isascii() and key else (key or "x")
    if name == "meta":
        name = "gains"
    return rewrite(source, target, set_array(name, value))


@pytest.mark.parametrize("kind", ["model", "timbre", "mosaic"])
@FUZZ
@given(mutation=_mutations())
def test_fuzzed_archives_load_or_are_refused(kind: str, mutation: tuple[str, Any],
                                             good_files: dict[str, Path],
                                             tmp_path: Path) -> None:
    """Random changes to the metadata, the arrays or the bytes of a good file: a valid
    object, or a `ParameterError` of one line naming the file; never anything else."""
    path = _mutate(good_files[kind], tmp_path / "fuzzed.npz", mutation)
    try:
        loaded = load_any("model" if kind == "model" else "plan", path)
    except ParameterError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
        return
    if isinstance(loaded, RenderPlan):
        assert np.all(np.isfinite(loaded.gains)) and loaded.n_samples > 0
    else:
        assert isinstance(loaded, tuple)
        model = loaded[0]
        assert np.all(np.isfinite(model.shape_mean_)) and model.n_states_ >= 1


@FUZZ
@given(text=st.text(max_size=300), key=st.sampled_from(["strength", "clusters", "mode",
                                                         "seed", "levels", "bogus"]),
       value=st.one_of(st.integers(), st.floats(), st.text(max_size=10), st.booleans(),
                       st.lists(st.integers(), max_size=3)))
def test_fuzzed_presets_load_or_are_refused(text: str, key: str, value: Any,
                                            tmp_path: Path) -> None:
    """Random TOML, and a good preset with one random key: a valid preset or one line."""
    import tomllib

    def toml_value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and not np.isfinite(v):
            return "nan" if np.isnan(v) else ("inf" if v > 0 else "-inf")
        return json.dumps(v)

    for i, body in enumerate((text, f'description = "x"\n{key} = {toml_value(value)}\n')):
        path = tmp_path / f"p{i}.toml"
        path.write_text(body, encoding="utf-8")
        try:
            preset = load_preset(str(path))
        except ParameterError as exc:
            assert str(exc).startswith(str(path)) and "\n" not in str(exc), str(exc)
            continue
        preset.settings.checked()
        assert tomllib.loads(body) is not None
