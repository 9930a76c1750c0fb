"""The style's side of planning: everything a plan needs of the style tracks.

`prepare_style` analyses the style tracks, learns the model (or takes a learnt one), and,
where planning searches the style's frames (a mosaic, frames or pitch targets), adds the
transposed copies, labels every frame with its state and, for pitch targets, measures
the frames' pitches (`pitch_targets.PitchPool`). None of it reads the content: only its
rate, depth, hop and channels, so a streamed transfer prepares the style while it reads
the content.

Examples
--------
>>> import numpy as np
>>> from styletransfer.settings import Settings
>>> style = np.random.default_rng(0).standard_normal((1, 22050))
>>> side = prepare_style([(style, 22050)], settings=Settings(clusters=3), sr=22050,
...                      level=5, hop=512, n_channels=1)
>>> side.model.n_states, side.style is None, side.energy.shape[0]
(3, True, 44)
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import blocks
from .analysis import Analysis, analyse
from .audio import check_audio, resample, to_channels, working_exponent
from .errors import ParameterError
from .mapping import StyleFrames
from .model import StyleModel
from .pitch_targets import PitchPool
from .profiles import frame_chroma
from .segments import is_corpus
from .settings import Settings, needs_pitches, searches_style_frames


@dataclass(frozen=True)
class StyleSide:
    """What `prepare_style` found.

    Attributes
    ----------
    model : StyleModel
        The style's states.
    energy : np.ndarray or None
        ``(n_frames, n_bands)`` band energy of the style tracks analysed, one after another
        (None: the learnt model serves alone), for pictures.
    style : Analysis or None
        Where frames are searched: the tracks, then their transposed copies, concatenated
        (their frame features alone for a timbre plan, which measures the style and plays
        the content). Nothing else of the analyses is kept.
    frames : StyleFrames or None
        What the search compares of the frames of ``style``.
    pool : PitchPool or None
        The frames pitch targets average.
    corpus : bool
        Frames are searched in a corpus model's index, read from its files as chosen.
    """

    model: StyleModel
    energy: np.ndarray | None = None
    style: Analysis | None = None
    frames: StyleFrames | None = None
    pool: PitchPool | None = None
    corpus: bool = False


def prepare_style(styles: Sequence[tuple[np.ndarray, int]], *, settings: Settings, sr: int,
                  level: int, hop: int, n_channels: int, model: StyleModel | None = None,
                  names: Sequence[str] | None = None) -> StyleSide:
    """The style side of a plan with ``settings`` (already `transfer.prepared_settings`)
    for a content at ``sr`` with ``n_channels`` channels, analysed at ``level``/``hop``.

    ``model`` is used as it is where it `matches` the settings; its tracks are still
    analysed where frames are searched, except in a corpus model kept without its audio.
    """
    reuse = model is not None and matches(model, settings, sr=sr, level=level, hop=hop)
    searches = searches_style_frames(settings)
    # from a corpus, frames are chosen from the model's features, and only those are read
    corpus = reuse and searches and not styles and is_corpus(model)
    analyses = None
    if (not reuse or searches) and not corpus:
        if not styles:
            raise ParameterError("the style model holds no audio and does not match these "
                                 "settings: learn it again from audio, or give --style audio")
        # a timbre plan plays the content only: the style is measured, never played, and
        # its channels' energies are summed anyway, so its mono mix serves at half the cost
        channels = 1 if settings.mode == "timbre" and searches else n_channels
        analyses = analyse_styles(styles, sr=sr, n_channels=channels, settings=settings,
                                  level=level, hop=hop, names=names)
    if not reuse:
        assert analyses is not None
        model = StyleModel(settings.clusters, seed=settings.seed).fit(analyses)
    assert model is not None
    if not searches or corpus:
        return StyleSide(model, _energy(analyses), corpus=corpus)
    assert analyses is not None
    played = mosaic_sources(analyses, settings.transpose)
    style = concatenate(played, coefficients=settings.mode == "mosaic")
    pitched = needs_pitches(settings)
    frames = style_frames(played, model, pitch=settings.pitch > 0 and not pitched)
    pool = PitchPool.of(played, style, frames.labels) if pitched else None
    return StyleSide(model, _energy(analyses), style, frames, pool)


def _energy(analyses: Sequence[Analysis] | None) -> np.ndarray | None:
    return None if analyses is None else np.concatenate([a.energy for a in analyses])


def matches(model: StyleModel, settings: Settings, *, sr: int, level: int, hop: int) -> bool:
    """Whether ``model`` was learnt at ``sr`` with the settings' wavelet, bands and hop."""
    return (model.sr_, model.wavelet_, model.level_, model.hop_, model.bands_per_octave_) == (
        sr, settings.wavelet, level, hop, settings.bands_per_octave)


def analyse_styles(styles: Sequence[tuple[np.ndarray, int]], *, sr: int, n_channels: int,
                   settings: Settings, level: int, hop: int,
                   names: Sequence[str] | None = None) -> list[Analysis]:
    """Resample, match channels and analyse each style track (``names`` for messages)."""
    analyses = []
    for index, (y, style_sr) in enumerate(styles):
        name = (names[index] if names is not None and len(names) == len(styles)
                else f"style {index + 1}")
        check_audio(y, name=name)
        exponent = working_exponent(y)  # nearly always 0: then no copy is made
        y = to_channels(resample(np.ldexp(y, exponent) if exponent else y, style_sr, sr),
                        n_channels)
        analyses.append(analyse(y, sr, wavelet=settings.wavelet, level=level, hop=hop,
                                bands_per_octave=settings.bands_per_octave, name=name))
    return analyses


def concatenate(analyses: Sequence[Analysis], *, coefficients: bool = True) -> Analysis:
    """One analysis of several tracks played one after another (frames concatenated); with
    ``coefficients`` False, of their frame features alone (no bands, no signal), which is
    all that a plan that measures the style and never plays it reads.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> a = analyse(np.random.default_rng(0).standard_normal((1, 8192)), 22050, level=4)
    >>> both = concatenate([a, a], coefficients=False)
    >>> both.n_frames, both.coeffs[0].shape
    (32, (1, 0))
    """
    if len(analyses) == 1 and coefficients:
        return analyses[0]
    first = analyses[0]
    if coefficients:
        coeffs = [np.concatenate(bands, axis=1)
                  for bands in zip(*(a.coeffs for a in analyses), strict=True)]
        signal = np.concatenate([np.pad(a.signal, ((0, 0), (0, a.n_frames * a.hop - a.n_samples)))
                                 for a in analyses], axis=1)
    else:
        coeffs = [band[:, :0] for band in first.coeffs]
        signal = first.signal[:, :0]
    return Analysis(
        coeffs=coeffs, sr=first.sr, wavelet=first.wavelet, level=first.level, hop=first.hop,
        n_samples=sum(a.n_frames for a in analyses) * first.hop,
        energy=np.concatenate([a.energy for a in analyses]),
        crest=np.concatenate([a.crest for a in analyses]),
        signal=signal, bands_per_octave=first.bands_per_octave)


def style_frames(analyses: Sequence[Analysis], model: StyleModel, *,
                 pitch: bool = False) -> StyleFrames:
    """What `choose_segments` needs of the frames of ``analyses`` (tracks concatenated).

    Frames are labelled with the model's most likely state; with ``pitch``, their chroma
    (`frame_chroma`) is included.
    """
    features = np.vstack([a.features() for a in analyses])
    labels = model.posteriors(features).argmax(axis=1)
    track = np.concatenate([np.full(a.n_frames, i) for i, a in enumerate(analyses)])
    chroma = (np.vstack([frame_chroma(a.signal, a.sr, a.hop, a.n_frames) for a in analyses])
              if pitch else None)
    return StyleFrames(features=features, labels=labels, track=track, chroma=chroma)


def mosaic_sources(analyses: Sequence[Analysis], transpose: int) -> list[Analysis]:
    """What a mosaic plays from: the style tracks, then their `transposed_styles` copies.

    A plan's segments index these frames concatenated, so planning and re-rendering a
    saved plan both build them here.
    """
    return [*analyses, *transposed_styles(analyses, transpose)] if transpose else [*analyses]


def transposed_styles(analyses: Sequence[Analysis], transpose: int) -> list[Analysis]:
    """Analyses of the style tracks transposed by -``transpose``..+``transpose`` semitones.

    Each transposition is a resampling (shorter and higher, or longer and lower), so the
    mosaic can play pitches the style holds only on other notes.
    """
    import soxr

    def transposed(job: tuple[int, Analysis]) -> Analysis | None:
        semitones, a = job
        ratio = 2.0 ** (semitones / 12.0)
        y = np.ascontiguousarray(soxr.resample(
            np.ascontiguousarray(a.signal.T), a.sr * ratio, a.sr, quality="HQ").T)
        if y.shape[1] < a.hop:
            return None
        return analyse(y, a.sr, wavelet=a.wavelet, level=a.level, hop=a.hop,
                       bands_per_octave=a.bands_per_octave)

    jobs = [(semitones, a) for semitones in range(-transpose, transpose + 1)
            if semitones not in (0, -6)  # -6 plays the pitch classes of +6
            for a in analyses]
    with ThreadPoolExecutor(max_workers=blocks.WORKERS) as pool:  # numpy, soxr, pywt: no GIL
        done = list(pool.map(transposed, jobs))
    return [a for a in done if a is not None]
