"""Pictures of the `evaluate` measures: the features they compare, track beside track.

A small multiple, on the measures' own frames (mono, 22.05 kHz, 512-sample hop):

- the onset strength envelopes of the content, the output (and the ground truth)
  overlaid: what ``onset_corr`` correlates;
- the CQT chroma of each track side by side: what ``chroma_cos`` compares;
- the MFCCs (c1-c20) of every track's active frames on the first two principal components
  of all of them together, each track's cloud with the 2-sigma ellipse of its Gaussian:
  what ``style_gain_mfcc`` measures the distances between;
- the measures themselves.

Figures are made as in `styletransfer.plot` (Agg canvas, fixed size, deterministic PNG).

Examples
--------
>>> from styletransfer.demo import breathy_drone, plucked_melody
>>> tracks = {"content": (plucked_melody(22050), 22050), "style": (breathy_drone(22050), 22050),
...           "output": (plucked_melody(22050), 22050)}
>>> figure = measures_figure(tracks)  # doctest: +SKIP
>>> save_png(figure, "measures.png")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import audio
from .errors import ParameterError
from .evaluate import HOP, SR, _prepare
from .plot import (
    DPI,
    ENERGY_CMAP,
    FIGSIZE,
    check_png_target,
    column_step,
    default_style,
    headline,
    mean_columns,
    save_png,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The tracks a measures picture shows, in order, with their colours.
TRACK_COLOURS = {"content": "tab:blue", "output": "tab:orange", "truth": "tab:red",
                 "style": "tab:green"}
#: Measures listed in the picture's table.
LISTED = ("style_gain_mfcc", "style_gain_texture", "onset_corr", "chroma_cos", "loudness_corr",
          "f0_raw_pitch", "f0_voicing", "mcd_reduction")
#: Most frames of one track drawn in the MFCC panel (evenly spaced).
MAX_POINTS = 1500
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def check_measures_picture(path: str | os.PathLike[str], *,
                           inputs: tuple[str | os.PathLike[str], ...] = (),
                           force: bool = False) -> Path:
    """Check, before any measuring, that the picture may be written (`check_png_target`)."""
    return check_png_target(path, inputs=inputs, force=force)


def plot_measures_files(content: str | os.PathLike[str], style: str | os.PathLike[str],
                        output: str | os.PathLike[str], picture: str | os.PathLike[str], *,
                        truth: str | os.PathLike[str] | None = None,
                        measures: Mapping[str, float] | None = None,
                        force: bool = False) -> Path:
    """Draw the measures picture of audio files into ``picture`` (a ``.png``).

    The files are read as `evaluate_files` reads them (the output as it is, non-finite
    samples taken as 0); ``measures`` (from `evaluate_files`) go in the title and table.

    Examples
    --------
    >>> plot_measures_files("c.wav", "s.wav", "c.styled.wav", "m.png")  # doctest: +SKIP
    PosixPath('m.png')
    """
    target = check_png_target(picture, inputs=(content, style, output,
                                               *([truth] if truth else [])), force=force)
    tracks = {"content": audio.load(content), "style": audio.load(style)}
    if truth is not None:
        tracks["truth"] = audio.load(truth)
    y, sr = audio.read(output)
    if y.size == 0:
        raise ParameterError(f"{output}: has no samples (zero length): "
                             "give a file with audio in it")
    tracks["output"] = (np.where(np.isfinite(y), y, 0.0), sr)
    names = {"content": content, "style": style, "output": output, "truth": truth}
    figure = measures_figure(tracks, measures,
                             names={k: Path(v).name for k, v in names.items() if v})
    save_png(figure, target, force=force)
    return Path(picture)


def measures_figure(tracks: Mapping[str, tuple[np.ndarray, int]],
                    measures: Mapping[str, float] | None = None, *,
                    names: Mapping[str, str] | None = None) -> Figure:
    """The measures picture of ``tracks``: ``content``, ``style`` and ``output`` (and
    ``truth``), each ``(audio, sr)``; ``measures`` from `evaluate`, ``names`` for the title.

    Panels are labelled ``onsets``, ``chroma content`` (one per track), ``mfcc`` and
    ``measures``.

    Examples
    --------
    >>> measures = evaluate_files("c.wav", "s.wav", "o.wav")  # doctest: +SKIP
    >>> figure = measures_figure(tracks, measures)  # doctest: +SKIP
    """
    missing = [name for name in ("content", "style", "output") if name not in tracks]
    if missing:
        raise ParameterError(f"a measures picture needs the {', '.join(missing)} audio")
    order = [name for name in TRACK_COLOURS if name in tracks]
    signals = {name: _prepare(np.atleast_2d(tracks[name][0]), tracks[name][1])
               for name in order}
    with default_style():
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=FIGSIZE, dpi=DPI)
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(3, len(order), height_ratios=[1.0, 1.1, 1.6], left=0.07,
                                   right=0.97, top=0.9, bottom=0.06, hspace=0.4, wspace=0.25)
        _onsets(figure.add_subplot(grid[0, :], label="onsets"), signals)
        _chroma(figure, grid, order, signals)
        pca = figure.add_subplot(grid[2, : max(1, len(order) - 1)], label="mfcc")
        _mfcc(pca, signals)
        table = figure.add_subplot(grid[2, len(order) - 1], label="measures")
        _table(table, measures)
        figure.suptitle(_title(names or {}, measures), fontsize=11, x=0.07, ha="left")
    return figure


def pca_2d(frames: Mapping[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each track's frames (rows) on the first two principal components of all of them.

    Returns the projections and the share of variance each component explains; a
    component's sign is fixed so that its largest loading is positive.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points, share = pca_2d({"a": rng.standard_normal((50, 5)), "b": rng.normal(3, 1, (50, 5))})
    >>> points["a"].shape, bool(share[0] > share[1])
    ((50, 2), True)
    """
    pooled = np.vstack(list(frames.values()))
    centre = pooled.mean(axis=0)
    _, values, vectors = np.linalg.svd(pooled - centre, full_matrices=False)
    axes = vectors[:2]
    signs = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * signs[:, None]
    variance = values**2
    share = variance[:2] / max(float(variance.sum()), 1e-300)
    return {name: (x - centre) @ axes.T for name, x in frames.items()}, share


def _onsets(ax: Axes, signals: Mapping[str, Any]) -> None:
    import librosa

    for name in ("content", "output", "truth"):
        if name in signals:
            envelope = librosa.onset.onset_strength(S=signals[name].log_mel, sr=SR)
            ax.plot(np.arange(len(envelope)) * HOP / SR, envelope, lw=0.8,
                    color=TRACK_COLOURS[name], label=name, alpha=0.85)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("onset strength")
    ax.set_xlim(left=0.0)
    ax.legend(loc="upper right", fontsize=8, ncols=3)
    ax.set_title("onset envelopes (onset_corr correlates content and output)")


def _chroma(figure: Figure, grid: Any, order: list[str], signals: Mapping[str, Any]) -> None:
    import librosa

    tuning = float(librosa.estimate_tuning(y=signals["content"].y, sr=SR, bins_per_octave=36))
    first: Axes | None = None
    for column, name in enumerate(order):
        ax = figure.add_subplot(grid[1, column], label=f"chroma {name}",
                                **({"sharey": first} if first is not None else {}))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="n_fft=.* is too large",
                                    category=UserWarning)
            chroma = librosa.feature.chroma_cqt(y=signals[name].y, sr=SR, hop_length=HOP,
                                                tuning=tuning)
        step = column_step(chroma.shape[1])
        columns = mean_columns(chroma.T, step).T
        ax.imshow(columns, origin="lower", aspect="auto", cmap=ENERGY_CMAP, vmin=0.0, vmax=1.0,
                  extent=(0.0, columns.shape[1] * step * HOP / SR, -0.5, 11.5))
        ax.set_title(f"chroma: {name}", color=TRACK_COLOURS[name])
        ax.set_xlabel("time (s)" if name != "style" else "style time (s)")
        if first is None:
            ax.set_yticks(np.arange(12), PITCH_CLASSES)
            ax.set_ylabel("pitch class")
            first = ax
        else:
            ax.tick_params(labelleft=False)


def _mfcc(ax: Axes, signals: Mapping[str, Any]) -> None:
    import librosa

    frames = {name: librosa.feature.mfcc(S=sig.log_mel, n_mfcc=21)[1:, sig.active].T
              for name, sig in signals.items()}
    points, share = pca_2d(frames)
    for name, xy in points.items():
        step = max(1, -(-len(xy) // MAX_POINTS))
        colour = TRACK_COLOURS[name]
        ax.scatter(xy[::step, 0], xy[::step, 1], s=3, color=colour, alpha=0.35, linewidths=0)
        ax.plot(*_ellipse(xy), color=colour, lw=1.6, label=f"{name} ({len(xy)} frames)")
    ax.set_xlabel(f"first principal component ({100 * share[0]:.0f} % of the variance)")
    ax.set_ylabel(f"second ({100 * share[1]:.0f} %)")
    ax.legend(loc="best", fontsize=8)
    ax.set_title("MFCC c1-c20 of the active frames, first two principal components, "
                 "2-sigma ellipses")


def _ellipse(points: np.ndarray, sigmas: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """The ``sigmas`` ellipse of the Gaussian of 2-D ``points`` (maximum likelihood)."""
    centre = points.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(points.T, bias=True) if len(points) > 1
                                     else np.zeros((2, 2)))
    angle = np.linspace(0.0, 2 * np.pi, 97)
    circle = np.stack([np.cos(angle), np.sin(angle)])
    outline = vectors @ (sigmas * np.sqrt(np.maximum(values, 0.0))[:, None] * circle)
    return centre[0] + outline[0], centre[1] + outline[1]


def _table(ax: Axes, measures: Mapping[str, float] | None) -> None:
    ax.set_axis_off()
    ax.set_title("measures")
    if not measures:
        ax.text(0.0, 0.9, "not measured", transform=ax.transAxes, va="top")
        return
    lines = [f"{name:<19}{_value(measures[name])}" for name in LISTED if name in measures]
    ax.text(0.0, 0.95, "\n".join(lines), transform=ax.transAxes, va="top", family="monospace",
            fontsize=8, linespacing=1.6)


def _value(value: float) -> str:
    return f"{'n/a':>6}" if np.isnan(value) else f"{value:6.3f}"


def _title(names: Mapping[str, str], measures: Mapping[str, float] | None) -> str:
    line = (f"{names.get('output', 'output')} against the content {names.get('content', '')} "
            f"and the style {names.get('style', '')}"
            + (f", ground truth {names['truth']}" if "truth" in names else ""))
    extra = headline(measures)
    return f"{line}\n{extra}" if extra else line
