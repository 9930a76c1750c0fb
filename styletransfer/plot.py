"""Pictures of a run: one PNG that shows what a transfer did.

On one shared time axis (the content's): the band energy of the content and of the output
(wavelet scalograms, dB, band edges in Hz), the band gains of the plan (dB, a diverging
map centred on 0 dB), the style state each content frame was mapped to (one lane and one
colour per state, beside each state's mean band shape), and in mosaic mode the place in
the style each frame was played from, so that jumps and unbroken stretches show. Above
them the style's own scalogram, on its own time axis. Measures from `evaluate` can go in
the title.

matplotlib is an optional extra (``aioli-styletransfer[plot]``), imported only here and
only when a picture is drawn; figures are drawn with the Agg canvas (no display), at a
fixed size and resolution, with matplotlib's default style whatever the user's settings,
and saved without metadata that changes from run to run: the same inputs give the same
bytes.

Examples
--------
>>> from styletransfer import Settings, analyse, plan_transfer, render
>>> y = np.random.default_rng(0).standard_normal((1, 22050))
>>> plan, c, s = plan_transfer(y, 22050, [(y[:, ::-1], 22050)], settings=Settings(mode="mosaic"))
>>> out = analyse(render(plan, c, s), 22050, wavelet=plan.wavelet, level=plan.level)
>>> figure = run_figure(plan, c.energy, out.energy, s.energy)  # doctest: +SKIP
>>> panel_names(figure)  # doctest: +SKIP
['style', 'content', 'output', 'gains', 'states', 'state shapes', 'mosaic source']
>>> save_png(figure, "run.png")  # doctest: +SKIP
PosixPath('run.png')
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .analysis import band_octaves
from .atomic import atomic_target, check_target
from .errors import ParameterError
from .plan import RenderPlan

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The one line every plotting option gives when matplotlib is missing.
MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'aioli-styletransfer[plot]'"
#: Size of every picture, in inches, and its resolution: 1200 x 1000 pixels.
FIGSIZE = (12.0, 10.0)
DPI = 100
#: Images are drawn at most this many columns wide (longer runs are averaged down).
MAX_COLUMNS = 2000
#: Energy is shown from the loudest value down by this many dB.
ENERGY_RANGE_DB = 70.0
#: Colour maps: energy (perceptual), gains (diverging, white at 0 dB).
ENERGY_CMAP, GAIN_CMAP = "magma", "RdBu_r"
#: Gains below this amplitude are shown at it (-120 dB), so a zero gain stays finite.
GAIN_FLOOR = 1e-6
#: The gain colours span at least this many dB either way from 0 dB.
GAIN_SPAN_DB = 3.0
#: The measures shown in a title, with their short names.
HEADLINE = {"style_gain_mfcc": "style gain (MFCC)", "style_gain_texture": "style gain (texture)",
            "onset_corr": "onsets kept", "chroma_cos": "chroma kept",
            "f0_raw_pitch": "pitch kept"}
#: Panel labels (``Axes.get_label()``), to find the panels of a figure.
PANELS = ("style", "content", "output", "gains", "states", "state shapes", "mosaic source")


def require_matplotlib() -> None:
    """Raise `ParameterError` with `MISSING_MATPLOTLIB` if matplotlib is not installed.

    Only looks for the package (importing it takes a while): an installation that is
    found but fails to import is reported as missing when a figure is made.
    """
    if not plotting_available():
        raise ParameterError(MISSING_MATPLOTLIB)


def plotting_available() -> bool:
    """Whether matplotlib is installed (the ``plot`` extra)."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):
        return False


def load_matplotlib() -> Any:
    """Import matplotlib with the figure and Agg canvas the pictures use, and return it;
    `ParameterError` with `MISSING_MATPLOTLIB` if that fails.
    """
    try:
        import matplotlib
        import matplotlib.backends.backend_agg
        import matplotlib.figure
    except ImportError:
        raise ParameterError(MISSING_MATPLOTLIB) from None
    return matplotlib


def check_png_target(path: str | os.PathLike[str], *,
                     inputs: tuple[str | os.PathLike[str], ...] = (),
                     force: bool = False) -> Path:
    """Check, before any work, that a picture may be written to ``path``; returns it resolved.

    Raises `ParameterError` when matplotlib is missing, the name does not end in ``.png``,
    or `atomic.check_target` refuses the path (an existing file without ``force``, ...).

    Examples
    --------
    >>> check_png_target("/tmp/run.wav")
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: /tmp/run.wav: a picture must end in .png
    """
    target = Path(path)
    if target.suffix.lower() != ".png":
        raise ParameterError(f"{target}: a picture must end in .png")
    require_matplotlib()
    return check_target(target, inputs=inputs, force=force).resolve()


def save_png(figure: Figure, path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write ``figure`` to ``path`` as PNG, atomically; without ``force``, never over a file.

    Examples
    --------
    >>> save_png(run_figure(plan, c, out), "run.png", force=True)  # doctest: +SKIP
    PosixPath('run.png')
    """
    target = Path(path)
    with atomic_target(target, force=force) as temp:
        write_png(figure, temp)
    return target


def write_png(figure: Figure, path: str | os.PathLike[str]) -> None:
    """Write ``figure`` to ``path`` as PNG: fixed size and `DPI`, no varying metadata."""
    with default_style():
        figure.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def panel_names(figure: Figure) -> list[str]:
    """The labels of the figure's panels (for a run, `PANELS`), in drawing order."""
    labels = [str(ax.get_label()) for ax in figure.axes]
    return [label for label in labels if label and not label.startswith("<")]


def panel(figure: Figure, name: str) -> Axes:
    """The panel labelled ``name``; `ParameterError` if the figure has none."""
    for ax in figure.axes:
        if str(ax.get_label()) == name:
            return ax
    raise ParameterError(f"the figure has no panel {name!r}: it has {panel_names(figure)}")


def run_figure(plan: RenderPlan, content: np.ndarray | None,
               output: np.ndarray | Callable[[], np.ndarray], style: np.ndarray | None = None,
               *, style_frames: int | None = None,
               measures: Mapping[str, float] | None = None) -> Figure:
    """The picture of one run: what the plan did to the content, and what came out.

    Parameters
    ----------
    plan : RenderPlan
        The plan that was rendered (its states and state shapes are shown when recorded).
    content : np.ndarray or None
        ``(plan.n_frames, plan.n_bands)`` band energy per frame (`Analysis.energy`) of the
        content, on the plan's grid; None for a synthesis (`RenderPlan.is_synthesis`),
        which has none.
    output : np.ndarray or callable
        The same of the rendered output, or a function that returns it: called when the
        output's panel is drawn, last, so that it can be measured meanwhile.
    style : np.ndarray, optional
        ``(n_style_frames, plan.n_bands)`` band energy of the style; for a mosaic plan, of
        the frames its segments index (the style tracks, then any transposed copies).
    style_frames : int, optional
        How many of the style's frames are the style itself, the rest transposed copies;
        marked when given.
    measures : mapping, optional
        Measures from `evaluate` (names in `HEADLINE` are shown in the title).

    Returns
    -------
    matplotlib.figure.Figure
        On an Agg canvas, `FIGSIZE` at `DPI`; panels labelled as in `PANELS`.

    Examples
    --------
    >>> figure = run_figure(plan, c.energy, out.energy, s.energy)  # doctest: +SKIP
    >>> save_png(figure, "run.png")  # doctest: +SKIP
    """
    with default_style():
        figure = _run_panels(plan, content, style, style_frames=style_frames,
                             measures=measures)
        _show_output(figure, plan, output() if callable(output) else output)
    return figure


def write_run_png(path: str | os.PathLike[str], plan: RenderPlan, content: np.ndarray | None,
                  output: np.ndarray | Callable[[], np.ndarray],
                  style: np.ndarray | None = None, *, style_frames: int | None = None,
                  measures: Mapping[str, float] | None = None) -> Figure:
    """Draw `run_figure` and write it to ``path`` as `write_png` would, byte for byte.

    Every panel but the output's is drawn first; then ``output`` (a function: its band
    energy) is called, and only the output's image and frame are drawn over the canvas.
    So the output can be measured meanwhile (in another thread) and the picture costs a
    fraction of a full drawing once it is known.

    Examples
    --------
    >>> write_run_png("run.png", plan, c.energy, lambda: out.energy, s.energy)  # doctest: +SKIP
    <Figure size 1200x1000 with 11 Axes>
    """
    with default_style():
        figure = _run_panels(plan, content, style, style_frames=style_frames,
                             measures=measures)
        figure.canvas.draw()
        _show_output(figure, plan, output() if callable(output) else output, drawn=True)
        _save_canvas(figure, path)
    return figure


def _run_panels(plan: RenderPlan, content: np.ndarray | None, style: np.ndarray | None, *,
                style_frames: int | None, measures: Mapping[str, float] | None) -> Figure:
    """`run_figure` with the content's energy (or none) in the output's panel, until
    `_show_output`."""
    if content is not None:
        _check_energy(content, (plan.n_frames, plan.n_bands), "content")
    elif not plan.is_synthesis:
        raise ParameterError("the content's band energy is missing: only a synthesis has none")
    if style is not None:
        _check_energy(style, (None, plan.n_bands), "style")
    mosaic = plan.mode == "mosaic"
    figure, grid = _new_figure(mosaic)
    seconds = plan.frame_seconds
    ticks = _band_ticks(plan)
    top = figure.add_subplot(grid[0, 0], label="style")
    energy = _energy_image(top, style, seconds, ticks, None,
                           missing="no style audio to show (a learnt style without audio)")
    top.xaxis.set_label_position("top")
    top.xaxis.tick_top()
    top.set_xlabel("style: band energy, over the style's own time (s)")
    if style is not None and style_frames is not None and style_frames < len(style):
        top.axvline(style_frames * seconds, color="white", ls="--", lw=1)
        top.text(style_frames * seconds, plan.n_bands * 0.92, "  transposed copies",
                 color="white", fontsize=8, va="top")
    axes = [figure.add_subplot(grid[1, 0], label="content")]
    shared: dict[str, Any] = {"sharex": axes[0]}
    axes.append(figure.add_subplot(grid[2, 0], label="output", **shared))
    axes.append(figure.add_subplot(grid[3, 0], label="gains", **shared))
    axes.append(figure.add_subplot(grid[4, 0], label="states", **shared))
    _energy_image(axes[0], content, seconds, ticks, "content: band energy",
                  missing="a synthesis: no content, the style's frames played one after another")
    _energy_image(axes[1], np.zeros((plan.n_frames, plan.n_bands)) if content is None
                  else content, seconds, ticks, "output: band energy")
    gains = _gain_image(axes[2], plan, ticks)
    lanes = _state_timeline(axes[3], figure.add_subplot(grid[4, 1], label="state shapes"),
                            plan, ticks)
    if mosaic:
        axes.append(figure.add_subplot(grid[5, 0], label="mosaic source", **shared))
        _mosaic_source(axes[-1], plan, lanes, style_frames)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xlabel("time (s)")
    axes[0].set_xlim(0, plan.duration)
    if energy is not None:
        _colorbar(figure, energy, grid[0:3, 1], "band energy (dB re. loudest)")
    _colorbar(figure, gains, grid[3, 1], "gain (dB)", ticks=_gain_ticks(gains))
    figure.suptitle(_title(plan, measures), fontsize=11, x=0.07, ha="left")
    for ax in figure.axes:  # frames drawn twice (`write_run_png`) stay the same pixels
        for spine in ax.spines.values():
            spine.set_antialiased(False)
    return figure


def _show_output(figure: Figure, plan: RenderPlan, output: np.ndarray, *,
                 drawn: bool = False) -> None:
    """Put the output's band energy in its panel; when the figure is ``drawn`` already,
    draw that image and the panel's frame again over the canvas."""
    _check_energy(output, (plan.n_frames, plan.n_bands), "output")
    ax = panel(figure, "output")
    image = ax.get_images()[0]
    image.set_data(_energy_db(output))
    if drawn:
        ax.draw_artist(image)
        for spine in ax.spines.values():
            ax.draw_artist(spine)


def _save_canvas(figure: Figure, path: str | os.PathLike[str]) -> None:
    """The drawn Agg canvas of ``figure`` as PNG, as `write_png` saves it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.image import imsave

    canvas = figure.canvas
    assert isinstance(canvas, FigureCanvasAgg)  # as `_new_figure` made it
    metadata: Any = {"Software": None}  # no varying metadata, as in `write_png`
    imsave(path, np.asarray(canvas.buffer_rgba()), format="png", origin="upper",
           dpi=DPI, metadata=metadata)


def headline(measures: Mapping[str, float] | None) -> str:
    """The `HEADLINE` measures as one line; empty without measures.

    Examples
    --------
    >>> headline({"onset_corr": 0.9312, "chroma_cos": float("nan"), "peak_dbfs": -1.0})
    'onsets kept 0.93 · chroma kept n/a'
    """
    if not measures:
        return ""
    parts = [f"{label} {_number(measures[name])}" for name, label in HEADLINE.items()
             if name in measures]
    return " · ".join(parts)


def column_step(n: int) -> int:
    """Frames averaged into one image column, so that ``n`` frames take <= `MAX_COLUMNS`.

    Examples
    --------
    >>> column_step(1500), column_step(7752)
    (1, 4)
    """
    return max(1, -(-n // MAX_COLUMNS))


def mean_columns(values: np.ndarray, step: int) -> np.ndarray:
    """Rows of ``values`` averaged in groups of ``step`` (the last group may be shorter).

    Examples
    --------
    >>> mean_columns(np.arange(5.0)[:, None], 2).ravel().tolist()
    [0.5, 2.5, 4.0]
    """
    if step == 1:
        return values
    starts = np.arange(0, len(values), step)
    counts = np.diff(np.append(starts, len(values)))
    return np.add.reduceat(values, starts, axis=0) / counts.reshape(-1, *[1] * (values.ndim - 1))


def state_colours(n_states: int) -> np.ndarray:
    """``(n_states, 4)`` RGBA colours, one per state, the same in every picture.

    Examples
    --------
    >>> state_colours(3).shape
    (3, 4)
    """
    from matplotlib import colormaps

    if n_states <= 10:
        return np.asarray(colormaps["tab10"](np.arange(n_states)))
    if n_states <= 20:
        return np.asarray(colormaps["tab20"](np.arange(n_states)))
    return np.asarray(colormaps["turbo"](np.linspace(0.05, 0.95, n_states)))


@contextmanager
def default_style() -> Iterator[None]:
    """matplotlib's default settings (whatever a matplotlibrc or the caller changed), with
    the sizes of these pictures: every figure is made and saved inside it."""
    matplotlib = load_matplotlib()
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update({"font.size": 9, "axes.titlesize": 9,
                                    "axes.titlelocation": "left", "axes.titley": 1.0,
                                    "axes.titlepad": 4.0, "axes.labelsize": 9,
                                    "xtick.labelsize": 8, "ytick.labelsize": 8,
                                    "image.interpolation": "nearest",
                                    "axes.linewidth": 72 / DPI})  # frames one pixel wide
        yield


def _new_figure(mosaic: bool) -> tuple[Figure, Any]:
    """A figure on an Agg canvas with its grid: panels on the left, keys on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    heights = [1.0, 1.1, 1.1, 1.1, 0.9] + ([1.2] if mosaic else [])
    grid = figure.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[6.0, 1.0],
                               left=0.07, right=0.97, top=0.89, bottom=0.06, hspace=0.38,
                               wspace=0.05)
    return figure, grid


def _check_energy(values: np.ndarray, shape: tuple[int | None, int], name: str) -> None:
    wanted = (values.shape[0] if shape[0] is None else shape[0], shape[1])
    if values.ndim != 2 or values.shape != wanted or values.shape[0] == 0:
        raise ParameterError(f"{name} band energy has shape {values.shape}, expected "
                             f"{('n_frames' if shape[0] is None else shape[0], shape[1])}")


def _band_ticks(plan: RenderPlan) -> tuple[np.ndarray, list[str]]:
    """Positions (in bands) and labels (Hz) of the octave edges, for a band axis."""
    octaves = band_octaves(plan.hop, plan.level, plan.bands_per_octave)
    starts = np.flatnonzero(np.diff(octaves, prepend=-1))
    edges = plan.band_edges()
    positions = np.append(starts, plan.n_bands)
    labels = [_hz(edges[i, 0]) for i in starts] + [_hz(edges[-1, 1])]
    return positions.astype(float), labels


def _hz(value: float) -> str:
    return f"{value:.0f}" if value < 1000 else f"{value / 1000:.3g}k"


def _band_axis(ax: Axes, ticks: tuple[np.ndarray, list[str]], *, axis: str = "y",
               every: int = 2) -> None:
    """Every ``every``-th octave edge as a labelled tick, from the top edge down."""
    positions, labels = ticks
    keep = slice((len(labels) - 1) % every, None, every)
    if axis == "y":
        ax.set_yticks(positions[keep], labels[keep])
        ax.set_ylabel("band edges (Hz)")
    else:
        ax.set_xticks(positions[keep], labels[keep])
        ax.set_xlabel("band edges (Hz)")


def _energy_image(ax: Axes, energy: np.ndarray | None, seconds: float,
                  ticks: tuple[np.ndarray, list[str]], title: str | None, *,
                  missing: str = "") -> Any:
    """A scalogram: band energy in dB re. its loudest value, bands as rows; without energy,
    the ``missing`` text."""
    if title:
        ax.set_title(title)
    if energy is None:
        ax.text(0.5, 0.5, missing, transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        return None
    step = column_step(len(energy))
    image = ax.imshow(_energy_db(energy), origin="lower", aspect="auto",
                      cmap=ENERGY_CMAP, vmin=-ENERGY_RANGE_DB, vmax=0.0,
                      extent=(0.0, -(-len(energy) // step) * step * seconds, 0.0,
                              energy.shape[1]))
    _band_axis(ax, ticks)
    return image


def _energy_db(energy: np.ndarray) -> np.ndarray:
    """``(n_bands, columns)`` band energy in dB re. its loudest value, at least
    -`ENERGY_RANGE_DB`: the rows of a scalogram."""
    columns = mean_columns(energy, column_step(len(energy)))
    loudest = max(float(columns.max()), 1e-30)
    db = 10 * np.log10(np.maximum(columns, loudest * 1e-12) / loudest)
    return np.maximum(db, -ENERGY_RANGE_DB).T


def _gain_image(ax: Axes, plan: RenderPlan, ticks: tuple[np.ndarray, list[str]]) -> Any:
    """The plan's band gains in dB: white at 0 dB, the largest boost full red and the largest
    cut full blue (each at least 3 dB), so boosts stay visible beside deep cuts."""
    from matplotlib.colors import TwoSlopeNorm

    step = column_step(plan.n_frames)
    db = mean_columns(20 * np.log10(np.maximum(plan.gains, GAIN_FLOOR)), step)
    norm = TwoSlopeNorm(vcenter=0.0, vmin=min(float(db.min()), -GAIN_SPAN_DB),
                        vmax=max(float(db.max()), GAIN_SPAN_DB))
    image = ax.imshow(db.T, origin="lower", aspect="auto", cmap=GAIN_CMAP, norm=norm,
                      extent=(0.0, len(db) * step * plan.frame_seconds, 0.0, plan.n_bands))
    ax.set_title("band gains of the plan (red: boosted, blue: cut)")
    _band_axis(ax, ticks)
    return image


def _state_timeline(ax: Axes, key: Axes, plan: RenderPlan,
                    ticks: tuple[np.ndarray, list[str]]) -> np.ndarray | None:
    """One lane per style state, marked where the content frames were mapped to it; beside
    it (``key``) each state's colour and mean band shape. Returns the states' colours."""
    ax.set_title("style state of each frame played" if plan.is_synthesis
                 else "style state of each content frame")
    key.set_title("state band shapes")
    if plan.states is None or plan.state_shapes is None:
        ax.text(0.5, 0.5, "this plan records no states: save it again with run --save-plan",
                transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        key.set_axis_off()
        return None
    from matplotlib.colors import ListedColormap

    n_states = len(plan.state_shapes)
    colours = state_colours(n_states)
    cmap = ListedColormap(colours)  # masked cells (other lanes) stay transparent
    step = column_step(plan.n_frames)
    counts = mean_columns((plan.states[:, None] == np.arange(n_states)).astype(np.float32), step)
    chosen = np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
    lanes = np.ma.masked_array(np.broadcast_to(chosen, (n_states, len(chosen))),
                               mask=chosen[None, :] != np.arange(n_states)[:, None])
    ax.imshow(lanes, origin="lower", aspect="auto", cmap=cmap, vmin=-0.5, vmax=n_states - 0.5,
              extent=(0.0, len(chosen) * step * plan.frame_seconds, -0.5, n_states - 0.5))
    for lane in range(1, n_states):
        ax.axhline(lane - 0.5, color="0.9", lw=0.5)
    every = 1 if n_states <= 16 else 4
    ax.set_yticks(np.arange(0, n_states, every))
    ax.set_ylabel("style state")
    shapes = plan.state_shapes.astype(np.float64) * (10 / np.log(10))  # natural log -> dB
    shapes = np.maximum(shapes - shapes.max(axis=1, keepdims=True), -ENERGY_RANGE_DB)
    key.imshow(shapes, origin="lower", aspect="auto", cmap=ENERGY_CMAP,
               vmin=-ENERGY_RANGE_DB, vmax=0.0, extent=(0.0, plan.n_bands, -0.5, n_states - 0.5))
    swatch = 0.12 * plan.n_bands
    key.imshow(np.arange(n_states)[:, None], origin="lower", aspect="auto", cmap=cmap,
               vmin=-0.5, vmax=n_states - 0.5, extent=(-swatch, 0.0, -0.5, n_states - 0.5))
    key.set_xlim(-swatch, plan.n_bands)
    key.set_ylim(-0.5, n_states - 0.5)
    key.set_yticks([])  # its rows are the lanes beside it
    _band_axis(key, ticks, axis="x", every=4)
    return colours


def _mosaic_source(ax: Axes, plan: RenderPlan, colours: np.ndarray | None,
                   style_frames: int | None) -> None:
    """Style time of the frame played at each content time, coloured by state."""
    seconds = plan.frame_seconds
    times = (np.arange(plan.n_frames) + 0.5) * seconds
    source = plan.segments * seconds
    jumps = np.flatnonzero(plan.segments[1:] != plan.segments[:-1] + 1)
    runs = np.diff(np.concatenate([[0], jumps + 1, [plan.n_frames]]))
    ax.plot(times, source, color="0.6", lw=0.6, zorder=1)
    colour: Any = "0.2"
    if colours is not None and plan.states is not None:  # frames of no state in grey
        palette = np.vstack([colours, [0.5, 0.5, 0.5, 1.0]])
        colour = palette[np.where(plan.states >= 0, plan.states, len(colours))]
    ax.scatter(times, source, c=colour, s=4, linewidths=0, zorder=2)
    if style_frames is not None and plan.segments.max() >= style_frames:
        ax.axhline(style_frames * seconds, color="0.4", ls="--", lw=0.8)
        ax.text(0.0, style_frames * seconds, " transposed copies above", fontsize=8,
                va="bottom", color="0.3")
    ax.set_ylabel("style time (s)")
    ax.set_title(f"where each frame was played from in the style: {len(jumps)} jumps, "
                 f"longest unbroken stretch {runs.max() * seconds:.2f} s")


def _colorbar(figure: Figure, image: Any, cell: Any, label: str, *,
              ticks: Sequence[float] | None = None) -> None:
    """A colour bar in the left part of a grid cell."""
    box = cell.get_position(figure)
    bar = figure.colorbar(image, cax=figure.add_axes(
        (box.x0, box.y0 + 0.04 * box.height, 0.12 * box.width, 0.92 * box.height)),
        ticks=ticks)
    bar.set_label(label)


def _gain_ticks(image: Any) -> list[float]:
    """Whole dB at the ends of each half of the gain colours, their middles, and 0."""
    low, high = float(image.norm.vmin), float(image.norm.vmax)
    return sorted({float(np.ceil(low)), float(round(low / 2)), 0.0, float(round(high / 2)),
                   float(np.floor(high))})


def _title(plan: RenderPlan, measures: Mapping[str, float] | None) -> str:
    content = Path(str(plan.sources.get("content") or "content")).name
    styles = [Path(str(s)).name for s in plan.sources.get("styles") or []]
    after = ", ".join(styles[:3]) + (f" and {len(styles) - 3} more" if len(styles) > 3 else "")
    synthesis = plan.is_synthesis
    strength = plan.settings.get("strength")
    details = [] if synthesis else [plan.mode]
    if isinstance(strength, int | float) and not synthesis:  # a saved plan's settings are
        details.append(f"strength {strength:g}")  # only a record
    if plan.state_shapes is not None:
        details.append(f"{len(plan.state_shapes)} states")
    details += [f"{plan.n_bands} bands ({plan.wavelet})", f"{plan.duration:.1f} s"]
    line = (f"synthesis after {after or 'the style'}: {', '.join(details)}" if synthesis else
            f"{content} styled after {after or 'the style'}: {', '.join(details)}")
    extra = headline(measures)
    return f"{line}\n{extra}" if extra else line


def _number(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"

