"""Safe ``.npz`` archives: numeric arrays plus one JSON string of metadata, never pickle.

Models and render plans are stored this way, so loading a file never runs code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ParameterError


def save_archive(path: str | os.PathLike[str], kind: str, version: int, meta: dict[str, Any],
                 arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` and ``meta`` (plus ``format`` = ``kind`` and ``version``) to ``path``.

    Examples
    --------
    >>> save_archive("/tmp/example.npz", "example", 1, {"rate": 8000}, {"x": np.arange(3)})
    >>> load_archive("/tmp/example.npz", "example", 1, hint="")[0]["rate"]
    8000
    """
    header = {"format": kind, "version": version, **meta}
    payload: dict[str, Any] = {"meta": np.array(json.dumps(header)), **arrays}
    with open(path, "wb") as handle:  # a handle: numpy would append ".npz" to a bare name
        np.savez_compressed(handle, **payload)


def load_archive(path: str | os.PathLike[str], kind: str, version: int, *,
                 hint: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read an archive written by `save_archive`; returns ``(meta, arrays)``.

    Raises `ParameterError` (ending with ``hint``) for a file that is missing, not an
    archive of ``kind``, holds objects (pickle), or comes from a newer format version.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if not isinstance(meta, dict) or meta.get("format") != kind:
                raise KeyError("format")
            arrays = {name: np.array(data[name]) for name in data.files if name != "meta"}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise ParameterError(f"{path}: not a styletransfer {kind} ({exc}): {hint}") from None
    if int(meta.get("version", 0)) > version:
        raise ParameterError(f"{path}: {kind} format {meta['version']} is newer than this "
                             "styletransfer understands: upgrade styletransfer")
    return meta, arrays
