"""Safe ``.npz`` archives: numeric arrays plus one JSON string of metadata, never pickle.

Models and render plans are stored this way, so loading a file never runs code. Reading
is strict, so that a damaged or hostile file is refused with one line naming the file and
what is wrong with it, before anything is computed from it:

- only members the format defines are read (any other is refused, unread), and each
  member's numpy header is checked against its description (`ArraySpec`: kind of number,
  number of dimensions) and against the size the archive declares for it, before its data
  is decompressed;
- the metadata is bounded JSON (no NaN or infinity, a limited depth and size); formats
  check its fields with `meta_int`, `meta_float`, `meta_choice`;
- every array must hold finite numbers within its range.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import tokenize
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

import numpy as np

from .errors import ParameterError
from .paths import regular_file

#: Longest metadata JSON accepted, in characters.
MAX_META_CHARS = 1 << 20
#: Deepest nesting of lists and objects accepted in the metadata.
MAX_META_DEPTH = 16


@dataclass(frozen=True)
class ArraySpec:
    """What one member of an archive must hold.

    Attributes
    ----------
    kinds : str
        numpy dtype kinds allowed (``"f"`` floats, ``"iu"`` integers, ``"fiu"`` either).
    ndim : int
        Number of dimensions.
    low, high : float or None
        Bounds every value must lie within (None: unbounded).
    max_bytes : int or None
        Most bytes of data the member may hold, checked on its header before it is read
        (None: as many as the archive declares).
    """

    kinds: str
    ndim: int
    low: float | None = None
    high: float | None = None
    max_bytes: int | None = None


class ArchiveError(ParameterError):
    """A file that is not a valid archive of the expected kind."""


@dataclass(frozen=True)
class Source:
    """Where checked values come from, for messages: the file, its kind, what to do.

    Examples
    --------
    >>> print(Source("x.npz", "style model", "learn it again").error("field 'sr' is 0"))
    x.npz: style model field 'sr' is 0: learn it again
    """

    path: object
    kind: str
    hint: str

    def error(self, problem: str) -> ArchiveError:
        return ArchiveError(f"{self.path}: {self.kind} {problem}: {self.hint}")


def save_archive(path: str | os.PathLike[str], kind: str, version: int, meta: dict[str, Any],
                 arrays: Mapping[str, np.ndarray | Callable[[], np.ndarray]]) -> None:
    """Write ``arrays`` and ``meta`` (plus ``format`` = ``kind`` and ``version``) to ``path``.

    A value may be a function that returns the array: it is called when its member is
    written, so members can be made one at a time instead of all held at once.

    Examples
    --------
    >>> save_archive("/tmp/example.npz", "example", 1, {"rate": 8000}, {"x": np.arange(3)})
    >>> load_archive("/tmp/example.npz", "example", 1, {"x": ArraySpec("iu", 1)},
    ...              hint="")[0]["rate"]
    8000
    """
    header = {"format": kind, "version": version, **meta}
    payload: dict[str, Any] = {"meta": np.array(json.dumps(header)), **arrays}
    # written as numpy.savez_compressed writes, one member at a time
    with open(path, "wb") as handle, zipfile.ZipFile(
            handle, mode="w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for name, value in payload.items():
            array = np.asanyarray(value() if callable(value) else value)
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)
            del array


def load_archive(path: str | os.PathLike[str], kind: str, version: int,
                 specs: Mapping[str, ArraySpec], *, hint: str,
                 optional: Mapping[str, ArraySpec] | None = None,
                 extra: tuple[str, ArraySpec] | None = None,
                 ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read and check an archive written by `save_archive`; returns ``(meta, arrays)``.

    ``specs`` names the members the format requires, ``optional`` those it may hold;
    ``extra`` is a regular expression for more optional members (e.g. ``audio_[0-9]+``)
    and their spec. Raises `ArchiveError`
    (its message ends with ``hint``) for a file that is missing, not a regular file, not an
    archive of ``kind``, holds other members, objects (pickle) or non-finite or
    out-of-range values, or comes from a newer format version.
    """
    path = regular_file(path)

    def refuse(problem: str) -> ArchiveError:
        return ArchiveError(f"{path}: {problem}: {hint}")

    if not zipfile.is_zipfile(path):
        raise refuse(f"not a styletransfer {kind} (not a .npz archive)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {_member_name(info.filename): info for info in archive.infolist()}
            if "meta" not in members:
                raise refuse(f"not a styletransfer {kind} (no metadata)")
            wanted = {"meta": ArraySpec("U", 0), **specs, **(optional or {})}
            for name in members:
                if name not in wanted and not (extra and re.fullmatch(extra[0], name)):
                    raise refuse(f"{kind} holds an unknown member {name!r}")
            missing = [name for name in specs if name not in members]
            if missing:
                raise refuse(f"{kind} is incomplete (missing {', '.join(missing)})")
            meta = _read_meta(archive, members["meta"], refuse)
            if meta.get("format") != kind:
                raise refuse(f"not a styletransfer {kind} (it says {meta.get('format')!r})")
            found = meta.get("version")
            if isinstance(found, bool) or not isinstance(found, int) or found < 1:
                raise refuse(f"{kind} field 'version' is {_shown(found)}, not a format "
                             "version")
            if found > version:
                raise ArchiveError(f"{path}: {kind} format {found} is newer than this "
                                   "styletransfer understands: upgrade styletransfer")
            arrays = {}
            for name, info in members.items():
                if name == "meta":
                    continue
                spec = wanted.get(name) or (extra[1] if extra else None)
                assert spec is not None
                arrays[name] = _read_member(archive, info, name, spec, refuse)
    except ParameterError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, struct.error, EOFError,
            OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        # corrupt data, unsupported or encrypted members: all mean the file is damaged
        raise refuse(f"not a readable {kind} archive ({_first_line(exc)})") from None
    return meta, arrays


def meta_int(meta: Mapping[str, Any], key: str, low: int, high: int, source: Source, *,
             default: int | None = None) -> int:
    """``meta[key]`` if it is an integer from ``low`` to ``high``, else `ArchiveError`.

    Examples
    --------
    >>> meta_int({"sr": 0}, "sr", 1000, 768000, Source("x.npz", "model", "learn it"))
    Traceback (most recent call last):
    ...
    styletransfer.archive.ArchiveError: x.npz: model field 'sr' is 0, not 1000 to 768000: learn it
    """
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise source.error(f"field {key!r} is {_shown(value)}, not {low} to {high}")
    return value


def meta_float(meta: Mapping[str, Any], key: str, low: float, high: float, source: Source, *,
               default: float | None = None) -> float:
    """``meta[key]`` if it is a number from ``low`` to ``high``, else `ArchiveError`."""
    value = meta.get(key, default)
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not low <= value <= high):
        raise source.error(f"field {key!r} is {_shown(value)}, not {low:g} to {high:g}")
    return float(value)


def meta_choice(meta: Mapping[str, Any], key: str, choices: Sequence[Any], source: Source, *,
                default: Any = None) -> Any:
    """``meta[key]`` if it is one of ``choices``, else `ArchiveError`."""
    value = meta.get(key, default)
    if isinstance(value, bool) or type(value) is float or value not in choices:
        shown = ", ".join(map(str, choices)) if len(choices) <= 8 else "a known value"
        raise source.error(f"field {key!r} is {_shown(value)}, not one of {shown}")
    return value


def check_shape(array: np.ndarray, shape: tuple[int | None, ...], name: str,
                source: Source) -> None:
    """Raise `ArchiveError` unless ``array`` has ``shape`` (None: any length there)."""
    if array.ndim != len(shape) or any(
            want is not None and have != want for have, want in zip(array.shape, shape,
                                                                    strict=True)):
        wanted = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise source.error(f"member {name!r} has shape {array.shape}, expected {wanted}")


def _member_name(filename: str) -> str:
    return filename[:-4] if filename.endswith(".npy") else filename


def _read_meta(archive: zipfile.ZipFile, info: zipfile.ZipInfo, refuse: Any) -> dict[str, Any]:
    text = _read_member(archive, info, "meta", ArraySpec("U", 0), refuse,
                        max_bytes=4 * MAX_META_CHARS)

    def finite(number: str) -> float:
        value = float(number)
        if not math.isfinite(value):
            raise ValueError(f"number {number} is out of range")
        return value

    def no_constant(name: str) -> float:
        raise ValueError(f"{name} is not a number")

    try:
        meta = json.loads(str(text), parse_float=finite, parse_constant=no_constant)
    except RecursionError:
        raise refuse("the metadata is nested too deeply") from None
    except ValueError as exc:
        raise refuse(f"the metadata is not valid JSON ({_first_line(exc)})") from None
    if not isinstance(meta, dict):
        raise refuse("the metadata is not a JSON object")
    if _depth(meta) > MAX_META_DEPTH:
        raise refuse("the metadata is nested too deeply")
    return meta


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, spec: ArraySpec,
                 refuse: Any, *, max_bytes: int | None = None) -> np.ndarray:
    """One member, its header checked against ``spec``, ``info`` and ``max_bytes`` before
    its data is read."""
    with archive.open(info) as handle:
        shape, dtype, header_bytes = _read_header(handle, name, refuse)
    if dtype.hasobject or dtype.kind not in spec.kinds:
        raise refuse(f"member {name!r} holds {dtype} values, not "
                     f"{'text' if spec.kinds == 'U' else 'numbers'}")
    if len(shape) != spec.ndim:
        raise refuse(f"member {name!r} has {len(shape)} dimensions, expected {spec.ndim}")
    size = header_bytes + math.prod(shape) * dtype.itemsize
    if size != info.file_size:
        raise refuse(f"member {name!r} declares {info.file_size} bytes where its header "
                     f"implies {size}")
    limit = max_bytes if max_bytes is not None else spec.max_bytes
    if limit is not None and size - header_bytes > limit:
        raise refuse(f"member {name!r} is too large ({size} bytes)")
    with archive.open(info) as handle:
        array = np.lib.format.read_array(handle, allow_pickle=False)
    if spec.kinds != "U":
        values = array.astype(np.float64, copy=False)
        if not np.all(np.isfinite(values)):
            raise refuse(f"member {name!r} holds NaN or infinite values")
        if array.size and ((spec.low is not None and values.min() < spec.low)
                           or (spec.high is not None and values.max() > spec.high)):
            raise refuse(f"member {name!r} holds values outside {spec.low:g}..{spec.high:g}"
                         if spec.low is not None and spec.high is not None
                         else f"member {name!r} holds values out of range")
    return np.asarray(array)


def _read_header(handle: IO[bytes], name: str, refuse: Any) -> tuple[tuple[int, ...],
                                                                      np.dtype[Any], int]:
    try:
        major, _ = np.lib.format.read_magic(handle)
        if major == 1:
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif major in (2, 3):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise ValueError(f"npy format {major}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, tokenize.TokenError) as exc:
        # numpy parses the header as a Python literal: damaged bytes fail in many ways
        raise refuse(f"member {name!r} is not a numpy array ({_first_line(exc)})") from None
    return tuple(int(n) for n in shape), np.dtype(dtype), handle.tell()


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
