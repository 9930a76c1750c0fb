"""The ``live --synth`` job: from style files on disk to a live synthesis set, every input
checked before anything is played (the playing is `styletransfer.supercollider.live_synth`).

Examples
--------
>>> live = live_synth_files([["rain.wav"]], seconds=None, preset="texture")  # doctest: +SKIP
>>> play_synth(live, boot=True)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .errors import ParameterError
from .files import _check_sc_grid
from .supercollider.live_synth import play_synth, synth_set
from .supercollider.timeline import LiveSet
from .synth import check_seconds
from .synth_files import read_synth_style

__all__ = ["live_synth_files", "play_synth"]


def live_synth_files(styles: Sequence[Sequence[str | os.PathLike[str]]], *,
                     seconds: float | None = None, preset: str | None = None,
                     options: dict[str, Any] | None = None,
                     synth_options: dict[str, Any] | None = None) -> LiveSet:
    """The live set of a synthesis after each style of ``styles`` (each a list of audio
    files or one learnt ``.npz`` that holds its audio), for ``seconds`` or without end.

    Settings merge as in `styletransfer.synth_files.synth_files` (a synthesis preset,
    then a learnt model's, then ``options`` / ``synth_options``), from the first style;
    the other styles are analysed at its rate, channels and settings. The seed
    (``options["seed"]``) seeds the first style's walk as ``synth`` does (the same
    frames), the next styles' with the seeds that follow it.
    """
    if not styles or not all(styles):
        raise ParameterError("no style given: add --style FILE (audio or a learnt .npz)")
    if seconds is not None:
        check_seconds(seconds, 1)
    read = [read_synth_style(group, preset=preset, options=options,
                             synth_options=synth_options) for group in styles]
    first = read[0]
    _check_sc_grid(first.settings, first.sr, first.n_channels)
    for other, group in zip(read[1:], styles[1:], strict=True):
        if other.settings.as_dict() != first.settings.as_dict():
            raise ParameterError(f"{group[0]}: learnt with other settings than the first "
                                 "--style (clusters, wavelet, levels or bands): every style "
                                 "of a live synthesis needs the same")
    indexes = [style.index(sr=first.sr, n_channels=first.n_channels) for style in read]
    return synth_set(indexes, first.synth_settings, seed=first.settings.seed,
                     seconds=seconds)
