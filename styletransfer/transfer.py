"""The whole transfer: analyse, learn the style, map, plan and render.

Examples
--------
>>> import numpy as np
>>> from styletransfer import Settings, transfer
>>> rng = np.random.default_rng(0)
>>> content, style = rng.standard_normal((1, 44100)), rng.standard_normal((2, 22050))
>>> out, plan = transfer(content, 22050, [(style, 22050)], settings=Settings(clusters=4))
>>> out.shape, plan.mode
((1, 44100), 'timbre')
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import numpy as np

from .analysis import Analysis, analyse, default_hop, default_level
from .audio import check_audio, working_exponent
from .engine_numpy import render
from .errors import ParameterError
from .gains import GUARD_DB as GUARD_DB  # where they used to live
from .gains import GUARD_SPAN_DB as GUARD_SPAN_DB
from .gains import SILENT_ENERGY as SILENT_ENERGY
from .gains import GainRecipe
from .gains import band_gains as band_gains
from .mapping import Mapping, StyleFrames, map_content, search_segments
from .memory import release_freed
from .model import StyleModel
from .pitch_targets import targets_at_pitch
from .plan import RenderPlan
from .profiles import pitch_classes
from .segments import SegmentAnalysis, corpus_frame_targets, plan_corpus_mosaic
from .settings import Settings, needs_pitches
from .styles import StyleSide, analyse_styles, prepare_style

#: Width, in octaves, over which `plan_timbre` smooths band shapes across bands when the
#: bands are finer than octaves (the spectral envelope, not single partials).
ENVELOPE_OCTAVES = 0.75
#: Called with the name of each stage as it starts.
Progress = Callable[[str], None]
#: Engines that render plans: inverse wavelet transform, or SuperCollider offline.
ENGINES = ("numpy", "sc")
STAGES = ("analysing content", "analysing style", "learning style", "mapping", "rendering")


def transfer(content: np.ndarray, sr: int, styles: Sequence[tuple[np.ndarray, int]], *,
             settings: Settings | None = None, model: StyleModel | None = None,
             progress: Progress | None = None, sources: dict[str, object] | None = None,
             engine: str = "numpy", keep_score: str | os.PathLike[str] | None = None,
             ) -> tuple[np.ndarray, RenderPlan]:
    """Make ``content`` sound in the style of ``styles``.

    Parameters
    ----------
    content : np.ndarray
        ``(n_channels, n_samples)`` content audio.
    sr : int
        The content's sample rate; the output has the same rate, length and channels.
    styles : sequence of (np.ndarray, int)
        Style tracks with their sample rates (resampled to ``sr`` as needed).
    settings : Settings
        Mode, strength, clusters, wavelet...; defaults to ``Settings()``.
    model : StyleModel, optional
        A model learnt earlier. Its number of states and seed replace ``settings.clusters``
        and ``settings.seed``; it is used as it is when it was learnt at ``sr`` with the
        settings' wavelet and depth, otherwise learnt again from ``styles``.
    progress : callable, optional
        Called with each stage's name (see `STAGES`).
    sources : dict, optional
        File names recorded in the plan.
    engine : str
        ``numpy`` (inverse wavelet transform) or ``sc`` (SuperCollider, offline).
    keep_score : path, optional
        ``sc`` only: a folder to keep the score and the audio it reads in.

    Returns
    -------
    audio : np.ndarray
        ``(n_channels, n_samples)`` in the content's dtype, not yet peak-limited.
    plan : RenderPlan
        The plan that was rendered.
    """
    plan, content_analysis, style_analysis = plan_transfer(
        content, sr, styles, settings=settings, model=model, progress=progress, sources=sources)
    _step(progress, "rendering")
    audio = render_plan(plan, content_analysis, style_analysis, engine=engine,
                        keep_score=keep_score)
    return np.ldexp(audio, -working_exponent(content)), plan


def render_plan(plan: RenderPlan, content: Analysis | None, style: Analysis | None, *,
                engine: str = "numpy", keep_score: str | os.PathLike[str] | None = None,
                ) -> np.ndarray:
    """Render ``plan`` with ``engine`` (see `ENGINES`) from the analyses it needs.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> y = np.random.default_rng(0).standard_normal((1, 3000))
    >>> a = analyse(y, 22050, wavelet="db4", level=4)
    >>> plan = RenderPlan.identity(sr=22050, n_samples=3000, n_channels=1, wavelet="db4",
    ...                            level=4, hop=a.hop)
    >>> bool(np.allclose(render_plan(plan, a, None), y))
    True
    """
    if isinstance(style, SegmentAnalysis):  # a corpus mosaic: segments count corpus frames
        plan = style.localise(plan)
    if engine == "numpy":
        if keep_score is not None:
            raise ParameterError("--keep-score needs --engine sc: the numpy engine has no score")
        return render(plan, content, style)
    if engine == "sc":
        from .supercollider.nrt import render_nrt

        return render_nrt(plan, content, style, keep_score=keep_score)
    raise ParameterError(f"engine {engine!r} is unknown: use one of {ENGINES}")


def plan_transfer(content: np.ndarray, sr: int, styles: Sequence[tuple[np.ndarray, int]], *,
                  settings: Settings | None = None, model: StyleModel | None = None,
                  progress: Progress | None = None, sources: dict[str, object] | None = None,
                  ) -> tuple[RenderPlan, Analysis, Analysis | None]:
    """Everything `transfer` does but rendering: returns the plan and the analyses it needs.

    A content or style whose peak lies beyond about -120..+120 dBFS is analysed scaled by
    a power of two (`working_exponent`), so the content analysis may hold the content scaled;
    `transfer` scales the result back.
    """
    planned = plan_with_recipe(content, sr, styles, settings=settings, model=model,
                               progress=progress, sources=sources)
    return planned.plan, planned.content, planned.style


@dataclasses.dataclass(frozen=True)
class Planned:
    """A plan, the analyses it plays from, and the recipe of its gains (`GainRecipe`),
    from which a live performer's strength control makes them again (None for a mosaic of
    a corpus learnt as an index: its strength cannot change); ``style_energy``, the band
    energy of the style tracks analysed for it, one after another (None when none was),
    for pictures of a plan that plays no style frames."""

    plan: RenderPlan
    content: Analysis
    style: Analysis | None
    recipe: GainRecipe | None
    style_energy: np.ndarray | None = None


def plan_with_recipe(content: np.ndarray, sr: int, styles: Sequence[tuple[np.ndarray, int]],
                     *, settings: Settings | None = None, model: StyleModel | None = None,
                     progress: Progress | None = None,
                     sources: dict[str, object] | None = None) -> Planned:
    """`plan_transfer`, keeping the recipe of the plan's gains as well.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> planned = plan_with_recipe(rng.standard_normal((1, 22050)), 22050,
    ...                            [(rng.standard_normal((1, 22050)), 22050)],
    ...                            settings=Settings(clusters=3, strength=0.5))
    >>> bool(np.array_equal(planned.recipe.gains(0.5), planned.plan.gains))
    True
    """
    settings = prepared_settings(settings, model)
    check_audio(content, name="content")
    content = np.ldexp(content, working_exponent(content))  # exact, see working_exponent
    level, hop = analysis_grid(settings, sr)
    _step(progress, "analysing content")
    names = dict(sources or {})
    content_analysis = analyse(content, sr, wavelet=settings.wavelet, level=level, hop=hop,
                               bands_per_octave=settings.bands_per_octave,
                               name=str(names.get("content", "content")))
    return plan_from_analysis(content_analysis, styles, settings=settings, model=model,
                              progress=progress, sources=sources)


def prepared_settings(settings: Settings | None, model: StyleModel | None) -> Settings:
    """``settings`` checked, with a learnt model's states and seed.

    Examples
    --------
    >>> prepared_settings(None, None).clusters
    8
    """
    settings = (settings or Settings()).checked()
    if model is not None:
        settings = dataclasses.replace(settings, clusters=model.n_states, seed=model.seed)
    return settings


def plan_from_analysis(content_analysis: Analysis, styles: Sequence[tuple[np.ndarray, int]], *,
                       settings: Settings | None = None, model: StyleModel | None = None,
                       progress: Progress | None = None,
                       sources: dict[str, object] | None = None,
                       content_chroma: np.ndarray | None = None,
                       side: StyleSide | None = None) -> Planned:
    """`plan_with_recipe` for a content already analysed: its coefficients, or only its
    frame features (as `stream.content_features` gives them, for a long content planned
    in bounded memory).

    ``content_chroma`` (`frame_chroma` of the content, or its `frame_pitches` where
    `needs_pitches`) is used where pitch is matched; by default it is computed from
    ``content_analysis.signal``. ``side``: the style side, when `styles.prepare_style`
    has made it already (with the same settings, model and content grid).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = analyse(rng.standard_normal((1, 22050)), 22050, wavelet="db4", level=6)
    >>> planned = plan_from_analysis(a, [(rng.standard_normal((1, 22050)), 22050)],
    ...                              settings=Settings(clusters=3, levels=6))
    >>> planned.plan.gains.shape[0] == a.n_frames
    True
    """
    settings = prepared_settings(settings, model)
    names = style_names(sources)
    _step(progress, "analysing style")
    if side is None:
        side = prepare_style(styles, settings=settings, sr=content_analysis.sr,
                             level=content_analysis.level, hop=content_analysis.hop,
                             n_channels=content_analysis.n_channels, model=model,
                             names=names)
    _step(progress, "learning style")
    model = side.model
    _step(progress, "mapping")
    mapping = map_content(content_analysis, model, smoothing=settings.smoothing,
                          seed=settings.seed)
    release_freed()  # the content model's fit, before the search's own arrays
    source = names[0] if names else "the style"
    concatenated = side.style
    recipe: GainRecipe | None = None
    if side.corpus and settings.mode == "mosaic":  # no recipe: its strength is fixed
        plan, concatenated = plan_corpus_mosaic(content_analysis, model, mapping, settings,
                                                source=source, content_chroma=content_chroma)
    elif side.corpus:  # frames targets, also for pitch targets: the corpus keeps no pitches
        if needs_pitches(settings) and content_chroma is not None:
            content_chroma = pitch_classes(content_chroma)
        plan, recipe = _timbre(content_analysis, mapping, settings,
                               target_shape=corpus_frame_targets(
                                   content_analysis, model, mapping, settings, source=source,
                                   content_chroma=content_chroma))
    elif settings.mode == "mosaic":
        assert concatenated is not None
        plan, recipe = _mosaic(content_analysis, model, concatenated, mapping, settings,
                               frames=side.frames, content_chroma=content_chroma)
    elif side.pool is not None:
        plan, recipe = _timbre(content_analysis, mapping, settings,
                               target_shape=targets_at_pitch(content_analysis, side.pool,
                                                             mapping.states(), content_chroma))
        concatenated = None  # a timbre plan plays the content alone
    elif settings.targets == "frames":
        assert concatenated is not None and side.frames is not None
        segments = search_segments(content_analysis, model, mapping.target_features,
                                   side.frames, continuity=settings.continuity,
                                   pitch=settings.pitch, onset_jumps=settings.onset_jumps,
                                   target_chroma=content_chroma)
        plan, recipe = _timbre(content_analysis, mapping, settings,
                               target_shape=concatenated.band_shape()[segments])
        concatenated = None  # a timbre plan plays the content alone
    else:
        plan, recipe = _timbre(content_analysis, mapping, settings)
    plan = dataclasses.replace(_with_records(plan, settings, sources),
                               states=mapping.states(),
                               state_shapes=model.shape_mean_.astype(np.float32))
    return Planned(plan, content_analysis, concatenated, recipe, style_energy=side.energy)


def style_names(sources: dict[str, object] | None) -> list[str] | None:
    """The style tracks' names in ``sources`` (for messages), if it has them."""
    given = (sources or {}).get("styles")
    return [str(n) for n in given] if isinstance(given, list) else None


def learn(styles: Sequence[tuple[np.ndarray, int]], *, sr: int, n_channels: int = 1,
          settings: Settings | None = None, names: Sequence[str] | None = None) -> StyleModel:
    """Learn a `StyleModel` from style tracks resampled to ``sr``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> model = learn([(rng.standard_normal((1, 22050)), 22050)], sr=22050,
    ...               settings=Settings(clusters=3))
    >>> model.n_states_
    3
    """
    settings = (settings or Settings()).checked()
    level, hop = analysis_grid(settings, sr)
    analyses = analyse_styles(styles, sr=sr, n_channels=n_channels, settings=settings,
                              level=level, hop=hop, names=names)
    return StyleModel(settings.clusters, seed=settings.seed).fit(analyses)


def analysis_grid(settings: Settings, sr: int) -> tuple[int, int]:
    """Wavelet depth and frame hop for ``settings`` at rate ``sr``.

    Examples
    --------
    >>> analysis_grid(Settings(), 44100), analysis_grid(Settings(levels=5), 22050)
    ((8, 1024), (5, 512))
    """
    level = settings.levels or default_level(sr)
    return level, default_hop(sr, level)


def plan_timbre(content: Analysis, mapping: Mapping, settings: Settings, *,
                target_shape: np.ndarray | None = None) -> RenderPlan:
    """Gains that move each content frame's spectral envelope ``strength`` of the way to the
    target's.

    The gains are the difference of the target's and the content's band shapes, each first
    smoothed across `ENVELOPE_OCTAVES` worth of bands: with bands finer than octaves, the
    content keeps its own partials (its pitch) under the style's envelope, instead of taking
    on the partials of whatever notes the style played. With octave bands nothing is
    smoothed and the content's shape moves straight to the target's. ``target_shape``
    replaces the mapping's (``targets = "frames"``: the band shapes of chosen style frames).
    """
    return _timbre(content, mapping, settings, target_shape=target_shape)[0]


def _timbre(content: Analysis, mapping: Mapping, settings: Settings, *,
            target_shape: np.ndarray | None = None) -> tuple[RenderPlan, GainRecipe]:
    recipe = timbre_recipe(content, target_shape if target_shape is not None
                           else mapping.target_shape, max_boost_db=settings.max_boost_db,
                           guard_db=settings.guard_db)
    plan = _plan(content, "timbre", recipe.gains(settings.strength),
                 np.full(content.n_frames, -1, dtype=np.int64), shifts=settings.render_shifts)
    return plan, recipe


def timbre_gains(content: Analysis, target_shape: np.ndarray, *, strength: float,
                 max_boost_db: float, guard_db: float = -30.0) -> np.ndarray:
    """``(n_frames, n_bands)`` gains moving ``content``'s band shapes ``strength`` of the way
    to ``target_shape``, the change smoothed across `ENVELOPE_OCTAVES` (see `plan_timbre`).

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> a = analyse(np.random.default_rng(0).standard_normal((1, 8192)), 22050, level=4)
    >>> bool(np.allclose(timbre_gains(a, a.band_shape(), strength=1.0, max_boost_db=24), 1))
    True
    """
    return timbre_recipe(content, target_shape, max_boost_db=max_boost_db,
                         guard_db=guard_db).gains(strength)


def timbre_recipe(content: Analysis, target_shape: np.ndarray, *, max_boost_db: float,
                  guard_db: float = GUARD_DB) -> GainRecipe:
    """The recipe of `timbre_gains` (any strength, any frames)."""
    from scipy.ndimage import uniform_filter1d

    shape = content.band_shape()
    width = max(1, round(ENVELOPE_OCTAVES * content.bands_per_octave))
    change = target_shape - shape
    if width > 1:
        change = uniform_filter1d(change, width, axis=1, mode="nearest")
    return GainRecipe.timbre(content.energy, shape, change, content.band_octaves(),
                             max_boost_db=max_boost_db, guard_db=guard_db)


def plan_mosaic(content: Analysis, model: StyleModel, style: Analysis, mapping: Mapping,
                settings: Settings, *, frames: StyleFrames | None = None,
                content_chroma: np.ndarray | None = None) -> RenderPlan:
    """Style frames chosen along the mapping, gained to the content's loudness and shape.

    ``frames`` describes the frames of ``style`` (by default the model's own); with
    ``settings.pitch`` above 0 and chroma in ``frames``, frames whose pitch classes match
    the content frame's are preferred.
    """
    return _mosaic(content, model, style, mapping, settings, frames=frames,
                   content_chroma=content_chroma)[0]


def _mosaic(content: Analysis, model: StyleModel, style: Analysis, mapping: Mapping,
            settings: Settings, *, frames: StyleFrames | None = None,
            content_chroma: np.ndarray | None = None) -> tuple[RenderPlan, GainRecipe]:
    segments = search_segments(content, model, mapping.target_features,
                               frames if frames is not None else StyleFrames.of(model),
                               continuity=settings.continuity, pitch=settings.pitch,
                               onset_jumps=settings.onset_jumps, target_chroma=content_chroma)
    return _mosaic_plan(content, style, segments, settings)


def mosaic_plan(content: Analysis, style: Analysis, segments: np.ndarray,
                settings: Settings) -> RenderPlan:
    """The plan that plays frames ``segments`` of ``style``, gained to the content's loudness
    and band shape."""
    return _mosaic_plan(content, style, segments, settings)[0]


def _mosaic_plan(content: Analysis, style: Analysis, segments: np.ndarray,
                 settings: Settings) -> tuple[RenderPlan, GainRecipe]:
    recipe = GainRecipe.mosaic(style.energy[segments], content.band_shape(),
                               style.band_shape()[segments], content.energy.sum(axis=1),
                               style.band_octaves(), max_boost_db=settings.max_boost_db,
                               guard_db=settings.guard_db)
    plan = _plan(content, "mosaic", recipe.gains(settings.strength), segments,
                 envelope=settings.envelope, shifts=settings.render_shifts)
    return plan, recipe


def _plan(content: Analysis, mode: str, gains: np.ndarray, segments: np.ndarray, *,
          envelope: float = 0.0, shifts: int = 1) -> RenderPlan:
    return RenderPlan(mode=mode, sr=content.sr, n_samples=content.n_samples,
                      n_channels=content.n_channels, wavelet=content.wavelet,
                      level=content.level, hop=content.hop, gains=gains, segments=segments,
                      envelope=envelope, shifts=min(shifts, 2**content.level),
                      bands_per_octave=content.bands_per_octave)


def _with_records(plan: RenderPlan, settings: Settings,
                  sources: dict[str, object] | None) -> RenderPlan:
    return dataclasses.replace(plan, sources=dict(sources or {}), settings=settings.as_dict())


def _step(progress: Progress | None, stage: str) -> None:
    if progress is not None:
        progress(stage)
