"""Presets: named settings kept as TOML files in ``presets/``.

A preset file holds a one-line ``description`` and any of the `Settings` fields::

    description = "Content's notes in the style's tone colour."
    mode = "timbre"
    strength = 0.8

A *synthesis* preset (for ``styletransfer synth``) also has a ``[synth]`` table of
`SynthSettings` fields, checked the same way::

    description = "Endless beds of rain, wind, drones."
    clusters = 8
    [synth]
    continuity = 0.8
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ParameterError
from .paths import regular_file
from .settings import Settings, field_types
from .synth_settings import SynthSettings, synth_field_types

#: Largest preset file read, in bytes.
MAX_PRESET_BYTES = 1 << 16


@dataclass(frozen=True)
class Preset:
    """A named set of settings.

    Examples
    --------
    >>> p = load_preset("balanced")
    >>> p.settings.mode
    'timbre'
    """

    name: str
    description: str
    values: dict[str, Any]
    path: str
    synth: dict[str, Any] | None = None

    @property
    def settings(self) -> Settings:
        return Settings().updated(self.values)

    @property
    def synth_settings(self) -> SynthSettings:
        """The ``[synth]`` table's settings (defaults for a transfer preset)."""
        return SynthSettings().updated(self.synth or {})

    def check_kind(self, synthesis: bool) -> Preset:
        """Return self if it is a synthesis preset and ``synthesis`` is true, or a transfer
        preset and it is false; else raise `ParameterError`.

        Examples
        --------
        >>> load_preset("texture").check_kind(synthesis=True).name
        'texture'
        """
        if synthesis and self.synth is None:
            raise ParameterError(f"--preset {self.name}: is a transfer preset: use a "
                                 "synthesis preset (see 'styletransfer presets')")
        if not synthesis and self.synth is not None:
            raise ParameterError(f"--preset {self.name}: is a synthesis preset: use it with "
                                 "'styletransfer synth'")
        return self


def builtin_presets() -> dict[str, Path]:
    """Names and files of the presets shipped with styletransfer, sorted by name."""
    folder = resources.files("styletransfer.preset_files")
    found = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            found[entry.name[:-5]] = Path(str(entry))
    return dict(sorted(found.items()))


def load_preset(name_or_path: str) -> Preset:
    """Load a built-in preset by name, or a preset file by path.

    Raises `ParameterError` for an unknown name, an unreadable file, malformed TOML, an
    unknown key or a value of the wrong type or range (naming the file and key).
    """
    shipped = builtin_presets()
    if name_or_path in shipped:
        path = shipped[name_or_path]
    else:
        path = Path(name_or_path)
        if path.suffix != ".toml" or not path.exists():
            raise ParameterError(f"--preset {name_or_path!r} is neither a preset name nor a "
                                 f".toml file: use one of {', '.join(shipped)} "
                                 "(see 'styletransfer presets')")
        regular_file(path)
    try:
        if path.stat().st_size > MAX_PRESET_BYTES:
            raise ParameterError(f"{path}: is {path.stat().st_size} bytes, too large for a "
                                 "preset: fix the preset file")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{path}: cannot read preset ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ParameterError(f"{path}: malformed TOML ({exc}): fix the preset file") from None
    except RecursionError:
        raise ParameterError(f"{path}: malformed TOML (nested too deeply): fix the preset "
                             "file") from None
    return _checked_preset(path, data)


def _checked_preset(path: Path, data: dict[str, Any]) -> Preset:
    types = field_types()
    description = data.pop("description", None)
    synth = data.pop("synth", None)
    if description is not None and not isinstance(description, str):
        raise ParameterError(f"{path}: key 'description' must be text, got "
                             f"{type(description).__name__}: write it in quotes")
    if not description or not description.strip():
        raise ParameterError(f"{path}: key 'description' is missing or empty: add a one-line "
                             "description")
    _check_types(path, data, types, where="", known=f"description or {', '.join(types)}")
    values = {k: float(v) if types[k] is float else v for k, v in data.items()}
    try:
        Settings().updated(values).checked()
    except ParameterError as exc:
        raise ParameterError(f"{path}: {exc}") from None
    synth_values = None if synth is None else _checked_synth(path, synth)
    return Preset(name=path.stem, description=description.strip(), values=values, path=str(path),
                  synth=synth_values)


def _check_types(path: Path, table: dict[str, Any], types: dict[str, type], *, where: str,
                 known: str) -> None:
    """Raise `ParameterError` for a key of ``table`` not in ``types`` or of the wrong type
    (an int is a float; a bool is neither); ``where`` names the table in messages."""
    for key, value in table.items():
        if key not in types:
            raise ParameterError(f"{path}: unknown key {key!r}{where}: use {known}")
        wanted = types[key]
        ok = (isinstance(value, wanted) if wanted is not float
              else isinstance(value, int | float)) and not isinstance(value, bool)
        if not ok:
            shown = repr(value) if len(repr(value)) <= 30 else type(value).__name__
            raise ParameterError(f"{path}: key {key!r}{where} must be {wanted.__name__}, "
                                 f"got {shown}")


def _checked_synth(path: Path, table: Any) -> dict[str, Any]:
    """The ``[synth]`` table of a synthesis preset, each key checked like the others."""
    types = synth_field_types()
    if not isinstance(table, dict):
        raise ParameterError(f"{path}: key 'synth' must be a table ([synth]) of "
                             f"{', '.join(types)}")
    _check_types(path, table, types, where=" in [synth]", known=", ".join(types))
    values = {k: float(v) if types[k] is float else v for k, v in table.items()}
    try:
        SynthSettings().updated(values).checked()
    except ParameterError as exc:
        raise ParameterError(f"{path}: [synth] {exc}") from None
    return values
