"""Compiling the SynthDefs in ``sc/`` with sclang, headless.

Each ``sc/st_*.scd`` file holds one SynthDef. `compile_synthdefs` runs sclang once on a
generated script that loads every source and writes ``NAME.scsyndef`` next to it (or into
another folder). sclang never exits by itself after an error, so it runs under a time
limit with stdin closed, and the script calls ``exit`` exactly once, with 1 if any source
failed. A source that fails is reported with sclang's own error lines.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from ..errors import EngineError, ParameterError

#: How long sclang may take to start, compile its class library and write the defs.
COMPILE_TIMEOUT = 120.0
SCRIPT = """\
var ok = true;
var sources = {sources};
var target = {target};
sources.do {{ |path|
    var def = try {{ path.load }} {{ |err|
        ("STERROR " ++ path ++ ": " ++ err.errorString).postln; nil }};
    if(def.isKindOf(SynthDef)) {{
        def.writeDefFile(target);
        ("STWROTE " ++ def.name).postln;
    }} {{
        ("STERROR " ++ path ++ ": does not evaluate to a SynthDef").postln;
        ok = false;
    }};
}};
if(ok) {{ 0.exit }} {{ 1.exit }};
"""


def synthdef_dir() -> Path:
    """The folder holding the SynthDef sources and their compiled ``.scsyndef`` files.

    Examples
    --------
    >>> (synthdef_dir() / "st_split.scd").is_file()
    True
    """
    return Path(str(resources.files("styletransfer.sc_files")))


def synthdef_sources(folder: str | os.PathLike[str] | None = None) -> list[Path]:
    """The ``st_*.scd`` sources in ``folder`` (default: the package's), sorted by name.

    Examples
    --------
    >>> [p.stem for p in synthdef_sources()][:2]
    ['st_analyser', 'st_bandsum']
    """
    return sorted(Path(folder or synthdef_dir()).glob("st_*.scd"))


def synthdef_bytes(name: str) -> bytes:
    """The compiled SynthDef ``name`` (e.g. ``"st_timbre"``), as shipped with the package.

    Examples
    --------
    >>> synthdef_bytes("st_play")[:4]
    b'SCgf'
    """
    path = synthdef_dir() / f"{name}.scsyndef"
    if not path.is_file():
        raise ParameterError(f"SynthDef {name} is not compiled: run 'styletransfer sc compile'")
    return path.read_bytes()


def find_sclang() -> str:
    """The sclang executable, or a `ParameterError` saying how to get one."""
    from .process import find_executable

    return find_executable("sclang", otherwise=" to compile SynthDefs")


def compile_synthdefs(sources: Sequence[str | os.PathLike[str]] | None = None,
                      target: str | os.PathLike[str] | None = None, *,
                      sclang: str | None = None, timeout: float = COMPILE_TIMEOUT,
                      ) -> list[Path]:
    """Compile SynthDef sources with sclang and return the ``.scsyndef`` files written.

    Parameters
    ----------
    sources : sequence of paths, optional
        ``.scd`` files, one SynthDef each (default: every ``st_*.scd`` of the package).
    target : path, optional
        Folder for the compiled files (default: next to the package's sources).
    sclang : str, optional
        The sclang executable (default: found on the PATH).
    timeout : float
        Seconds before sclang is stopped and the compile reported as hung.

    Raises
    ------
    EngineError
        A source did not compile; the message carries sclang's own error.

    Examples
    --------
    >>> compile_synthdefs(target="/tmp/defs")  # doctest: +SKIP
    [PosixPath('/tmp/defs/st_analyser.scsyndef'), ...]
    """
    paths = [Path(p).resolve() for p in (sources or synthdef_sources())]
    if not paths:
        raise ParameterError("no SynthDef sources (st_*.scd) to compile")
    for path in paths:
        if not path.is_file():
            raise ParameterError(f"{path}: no such SynthDef source: check the path")
    folder = Path(target or synthdef_dir()).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    executable = sclang or find_sclang()
    with tempfile.TemporaryDirectory(prefix="st-sclang-") as work:
        script = Path(work) / "compile.scd"
        script.write_text(SCRIPT.format(
            sources="[" + ", ".join(_sc_string(str(p)) for p in paths) + "]",
            target=_sc_string(str(folder) + os.sep)))
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QTWEBENGINE_DISABLE_SANDBOX": "1"}
        try:
            done = subprocess.run([executable, str(script)], stdin=subprocess.DEVNULL,
                                  capture_output=True, text=True, errors="replace",
                                  timeout=timeout, env=env, cwd=work, check=False)
        except subprocess.TimeoutExpired:
            raise EngineError(f"sclang did not finish compiling within {timeout:.0f} s: "
                              "check the sources for code that waits") from None
    lines = done.stdout.splitlines() + done.stderr.splitlines()
    if done.returncode != 0 or any(line.startswith("STERROR") for line in lines):
        raise EngineError(f"SynthDef compile failed: {sclang_error(lines)}")
    written = [line.split(" ", 1)[1].strip() for line in lines if line.startswith("STWROTE ")]
    return [folder / f"{name}.scsyndef" for name in written]


def sclang_error(lines: Sequence[str]) -> str:
    """sclang's own error in one line: its ``ERROR`` lines, where they point, and why.

    Examples
    --------
    >>> sclang_error(["ERROR: Parse error", "  in interpreted text", "  line 3 char 5:", "",
    ...               "  SinOsc.ar(440))", "     ^", "-----", "found a ')'", "  in text",
    ...               "ERROR: Command line parse failed", "STERROR x.scd: no SynthDef"])
    "x.scd: no SynthDef: ERROR: Parse error | line 3 char 5: SinOsc.ar(440)) | found a ')'"
    """
    files = [line.removeprefix("STERROR ").strip() for line in lines
             if line.startswith("STERROR")]
    picked: list[str] = []
    for index, line in enumerate(lines):
        text = line.strip()
        if line.startswith("ERROR") and "Command line parse failed" not in line:
            picked.append(text)
        elif text.startswith("line ") and " char " in text:
            code = next((c.strip() for c in lines[index + 1: index + 4] if c.strip()), "")
            picked.append(f"{text} {code}".strip())
        elif text.startswith("---") and index + 1 < len(lines):
            reason = lines[index + 1].strip()
            if reason and not reason.startswith("ERROR"):
                picked.append(reason)
    details = " | ".join(dict.fromkeys(picked))
    head = "; ".join(files) or "sclang failed"
    text = f"{head}: {details}" if details else head
    return text if len(text) < 600 else text[:597] + "..."


def _sc_string(text: str) -> str:
    """``text`` as an sclang string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
