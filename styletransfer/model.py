"""StyleModel: the states of a style, learnt with k-means and a Gaussian mixture.

Frame features (band shape, crest, loudness; see `Analysis.features`) of one or many style
tracks are standardised, a k-means codebook is fitted, and a diagonal Gaussian mixture
started from that codebook gives the style's states. For every state the model keeps the
mean and spread of the log band shape, and it counts how states follow each other.

Models are saved as ``.npz`` holding only numeric arrays plus one JSON string of settings:
loading never runs code (``allow_pickle=False``). A style learnt from files
(`corpus.learn_corpus`) also holds the frames' pitch classes and an index of the files
(`sources.CorpusIndex`), from which a mosaic reads the frames it plays; or, with
``--embed-audio``, copies of the audio.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

import numpy as np

from .analysis import BANDS_PER_OCTAVE, Analysis, band_sizes, supported_wavelets
from .archive import (
    ArraySpec,
    Source,
    check_shape,
    load_archive,
    meta_choice,
    meta_float,
    meta_int,
    save_archive,
)
from .audio import MAX_CHANNELS, SAMPLE_RATES
from .errors import ParameterError
from .sources import CHROMA_STEPS, INDEX_ARRAYS, MAX_FILES, CorpusIndex, Grid

FORMAT_VERSION = 1
ARCHIVE_KIND = "style model"
#: Rows whose mixture posteriors are computed at a time (bounded temporaries).
_CHUNK_ROWS = 8192


class NotFittedError(ParameterError):
    """A model was used before `StyleModel.fit`."""


class StyleModel:
    """The states of a style and how they follow each other.

    Parameters
    ----------
    n_states : int
        Number of k-means clusters and Gaussian-mixture components.
    seed : int
        Random seed for k-means and the mixture; same seed, same model.

    Attributes
    ----------
    mean_, scale_ : np.ndarray
        ``(n_features,)`` standardisation of the style's frame features.
    codebook_ : np.ndarray
        ``(n_states, n_features)`` k-means centroids (standardised).
    means_, variances_, weights_ : np.ndarray
        The diagonal Gaussian mixture (standardised features).
    transitions_ : np.ndarray
        ``(n_states, n_states)`` probability that state ``j`` follows state ``i``.
    shape_mean_, shape_std_ : np.ndarray
        ``(n_states, n_bands)`` mean and spread of the log band shape in each state.
    labels_ : np.ndarray
        ``(n_frames,)`` the state of every style frame.
    features_ : np.ndarray
        ``(n_frames, n_features)`` the style's raw frame features.
    track_ : np.ndarray
        ``(n_frames,)`` the track (file) each frame belongs to.
    sr_, wavelet_, level_, hop_ : analysis settings the model was fitted with.
    chroma_ : np.ndarray or None
        ``(n_frames, 12)`` pitch-class profiles of the frames in steps of
        1 / `CHROMA_STEPS` (uint8; styles learnt from files).
    index_ : CorpusIndex or None
        The files the frames come from (styles learnt from files, without copies).
    n_channels_ : int or None
        Channels the frames were analysed with (styles learnt from files).

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> y = np.random.default_rng(0).standard_normal((1, 44100))
    >>> model = StyleModel(n_states=4, seed=0).fit([analyse(y, 22050)])
    >>> model.transitions_.shape
    (4, 4)
    """

    def __init__(self, n_states: int = 8, *, seed: int = 0) -> None:
        self.n_states = n_states
        self.seed = seed
        self.chroma_: np.ndarray | None = None
        self.index_: CorpusIndex | None = None
        self.n_channels_: int | None = None
        self.log_likelihood_: float | None = None
        self.n_iter_: int | None = None

    # -- fitting -------------------------------------------------------------------------
    def fit(self, analyses: Sequence[Analysis]) -> StyleModel:
        """Learn the style's states from the analyses of one or many style tracks.

        All analyses must share sample rate, wavelet, depth and hop.
        """
        from sklearn.cluster import KMeans
        from sklearn.mixture import GaussianMixture

        if not isinstance(self.n_states, int | np.integer) or not 1 <= self.n_states <= 64:
            raise ParameterError(f"--clusters {self.n_states!r} is out of range: use 1 to 64")
        if not analyses:
            raise ParameterError("no style tracks given: name at least one --style file")
        first = analyses[0]
        for other in analyses[1:]:
            if (other.sr, other.wavelet, other.level, other.hop, other.bands_per_octave) != (
                    first.sr, first.wavelet, first.level, first.hop, first.bands_per_octave):
                raise ParameterError("style analyses differ in sample rate or wavelet settings")
        features = (analyses[0].features() if len(analyses) == 1  # no second copy
                    else np.vstack([a.features() for a in analyses]))
        shapes = features[:, : first.n_bands]  # the band shapes lead the features
        track = np.concatenate([np.full(a.n_frames, i) for i, a in enumerate(analyses)])
        n_states = int(min(self.n_states, distinct_rows(features, self.n_states)))
        mean, scale = standardisation(features)
        z = features - mean
        z /= scale  # in place: an hour of content frames holds one copy fewer

        # The mixture needs two rows: a one-frame track is fitted as that frame twice.
        rows = z if len(z) > 1 else np.vstack([z, z])
        with single_threaded():
            kmeans = KMeans(n_clusters=n_states, n_init=3, random_state=self.seed).fit(rows)
            gmm = GaussianMixture(n_components=n_states, covariance_type="diag",
                                  means_init=kmeans.cluster_centers_, reg_covar=1e-3,
                                  max_iter=100, random_state=self.seed).fit(rows)
            labels = gmm.predict(z)
        self.mean_, self.scale_ = mean, scale
        self.codebook_ = kmeans.cluster_centers_
        self.means_ = gmm.means_
        self.variances_ = gmm.covariances_
        self.weights_ = gmm.weights_
        self.labels_ = labels
        self.features_ = features
        self.track_ = track
        self.transitions_ = count_transitions(labels, track, n_states)
        self.shape_mean_, self.shape_std_ = state_statistics(shapes, labels, n_states)
        self.sr_, self.wavelet_, self.level_, self.hop_ = (
            first.sr, first.wavelet, first.level, first.hop)
        self.n_bands_ = first.n_bands
        self.bands_per_octave_ = first.bands_per_octave
        self.n_states_ = n_states
        return self

    def posteriors(self, features: np.ndarray) -> np.ndarray:
        """``(n_frames, n_states)`` state probabilities of raw style-space ``features``."""
        self._check_fitted()
        z = (features - self.mean_) / self.scale_
        return diagonal_gmm_posteriors(z, self.means_, self.variances_, self.weights_)

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], *,
             audio: Sequence[np.ndarray | Callable[[], np.ndarray]] | None = None,
             index: bool = True) -> None:
        """Save as ``.npz`` (numeric arrays and one JSON string; no pickle).

        ``audio`` (the style tracks, each ``(n_channels, n_samples)`` at ``sr_``, or
        functions that return them, called one at a time as they are written) is stored
        too when given, so a saved style can also drive the ``mosaic`` mode and be learnt
        again at other rates or settings. ``index``: keep the index of the files and the
        frames' pitch classes, if the model has them.
        """
        self._check_fitted()
        tracks = list(audio or [])
        meta: dict[str, Any] = {
            "n_states": self.n_states, "seed": self.seed, "sr": self.sr_,
            "wavelet": self.wavelet_, "level": self.level_, "hop": self.hop_,
            "n_bands": self.n_bands_, "bands_per_octave": self.bands_per_octave_,
            "n_tracks": len(tracks)}
        if self.n_channels_ is not None:
            meta["channels"] = self.n_channels_
        if self.log_likelihood_ is not None and self.n_iter_ is not None:
            meta.update(log_likelihood=self.log_likelihood_, n_iter=self.n_iter_)
        arrays: dict[str, np.ndarray | Callable[[], np.ndarray]] = {
            name: np.asarray(getattr(self, name + "_")) for name in _ARRAYS}
        if index and self.index_ is not None and self.chroma_ is not None:
            arrays.update(self.index_.arrays(), chroma=self.chroma_)
            meta["n_files"] = len(self.index_.entries)
        for number, track in enumerate(tracks):
            arrays[f"audio_{number}"] = (_float32(track) if callable(track)
                                         else np.asarray(track, dtype=np.float32))
        save_archive(path, ARCHIVE_KIND, FORMAT_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[StyleModel, list[np.ndarray]]:
        """Load a model saved by `save`; returns ``(model, style tracks)`` (the list may be empty).

        Every field is checked (`MODEL_ARRAYS`, and the settings against each other and
        the arrays' shapes), so a damaged or hostile file raises `ParameterError`, naming
        the file and the field, before anything is computed from it.
        """
        meta, arrays = load_archive(path, ARCHIVE_KIND, FORMAT_VERSION, MODEL_ARRAYS,
                                    hint=_HINT, optional=CORPUS_ARRAYS,
                                    extra=(r"audio_[0-9]+", AUDIO_ARRAY))
        where = Source(path, ARCHIVE_KIND, _HINT)
        model = cls(n_states=meta_int(meta, "n_states", 1, 64, where),
                    seed=meta_int(meta, "seed", 0, 2**32 - 1, where))
        model.sr_ = meta_int(meta, "sr", *SAMPLE_RATES, where)
        model.wavelet_ = meta_choice(meta, "wavelet", supported_wavelets(), where)
        model.level_ = meta_int(meta, "level", 1, 16, where)
        model.hop_ = meta_int(meta, "hop", 2**model.level_, 2**20, where)
        if model.hop_ % 2**model.level_:
            raise where.error(f"field 'hop' is {model.hop_}, not a multiple of 2**level")
        model.bands_per_octave_ = meta_choice(meta, "bands_per_octave", BANDS_PER_OCTAVE,
                                              where, default=1)
        n_bands = len(band_sizes(model.hop_, model.level_, model.bands_per_octave_))
        model.n_bands_ = meta_choice(meta, "n_bands", [n_bands], where)
        n_tracks = meta_int(meta, "n_tracks", 0, MAX_FILES, where)
        states = arrays["means"].shape[0] if arrays["means"].ndim == 2 else 0
        if not 1 <= states <= model.n_states:
            raise where.error(f"member 'means' has {states} states, not 1 to "
                              f"{model.n_states}")
        frames = arrays["labels"].shape[0]
        features = 2 * n_bands + 1
        shapes = {"mean": (features,), "scale": (features,), "codebook": (states, features),
                  "means": (states, features), "variances": (states, features),
                  "weights": (states,), "labels": (frames,), "features": (frames, features),
                  "track": (frames,), "transitions": (states, states),
                  "shape_mean": (states, n_bands), "shape_std": (states, n_bands)}
        for name, shape in shapes.items():
            check_shape(arrays[name], shape, name, where)
        if frames < 1 or arrays["labels"].max() >= states:
            raise where.error("member 'labels' names states that do not exist")
        for name, axis in (("weights", 0), ("transitions", 1)):
            if not np.allclose(arrays[name].sum(axis=axis), 1.0, atol=1e-6):
                raise where.error(f"member {name!r} does not add up to 1")
        tracks = sorted(name for name in arrays if name.startswith("audio_"))
        if tracks != sorted(f"audio_{index}" for index in range(n_tracks)):
            raise where.error(f"holds audio members {tracks}, not the {n_tracks} its "
                              "'n_tracks' says")
        for name in _ARRAYS:
            setattr(model, name + "_", arrays[name])
        model.n_states_ = states
        _load_corpus(model, meta, arrays, where)
        audio = []
        for index in range(n_tracks):
            track = arrays[f"audio_{index}"]
            if not 1 <= track.shape[0] <= MAX_CHANNELS or track.shape[1] < 1:
                raise where.error(f"member 'audio_{index}' has shape {track.shape}, not "
                                  "(channels, samples)")
            audio.append(track.astype(np.float32, copy=False))
        return model, audio

    def _check_fitted(self) -> None:
        if not hasattr(self, "means_"):
            raise NotFittedError("this StyleModel is not fitted yet: call fit() first")


_ARRAYS = ("mean", "scale", "codebook", "means", "variances", "weights", "labels",
           "features", "track", "transitions", "shape_mean", "shape_std")
_HINT = "learn the style again with 'styletransfer learn'"
#: Bound on feature values (log band shares, log crest factors, log energies) and their
#: standardised forms: far beyond any real model's, near enough that nothing overflows.
_BOUND = 1e4
#: What each array of a saved model must hold (the shapes are checked by `StyleModel.load`).
MODEL_ARRAYS = {
    "mean": ArraySpec("f", 1, -_BOUND, _BOUND),
    "scale": ArraySpec("f", 1, 1e-12, _BOUND),
    "codebook": ArraySpec("f", 2, -_BOUND, _BOUND),
    "means": ArraySpec("f", 2, -_BOUND, _BOUND),
    "variances": ArraySpec("f", 2, 1e-12, _BOUND**2),
    "weights": ArraySpec("f", 1, 0.0, 1.0),
    "labels": ArraySpec("iu", 1, 0, 63),
    "features": ArraySpec("f", 2, -_BOUND, _BOUND),
    "track": ArraySpec("iu", 1, 0, MAX_FILES - 1),
    "transitions": ArraySpec("f", 2, 0.0, 1.0),
    "shape_mean": ArraySpec("f", 2, -_BOUND, 1e-6),
    "shape_std": ArraySpec("f", 2, 1e-6, _BOUND),
}
#: A style track kept in a model: float samples within +-1e6 (finite, not absurdly loud).
AUDIO_ARRAY = ArraySpec("f", 2, -1e6, 1e6)
#: What a style learnt from files may also hold: the frames' pitch classes and the index.
CORPUS_ARRAYS = {"chroma": ArraySpec("iu", 2, 0, CHROMA_STEPS), **INDEX_ARRAYS}


def _load_corpus(model: StyleModel, meta: dict[str, Any], arrays: dict[str, np.ndarray],
                 where: Source) -> None:
    """The pitch classes, index and fitting record of a loaded model, checked."""
    frames = model.labels_.shape[0]
    held = [name for name in CORPUS_ARRAYS if name in arrays]
    if held and len(held) != len(CORPUS_ARRAYS):
        missing = sorted(set(CORPUS_ARRAYS) - set(held))
        raise where.error(f"holds part of an index (missing {', '.join(missing)})")
    if "channels" in meta:
        model.n_channels_ = meta_int(meta, "channels", 1, MAX_CHANNELS, where)
    if "log_likelihood" in meta or "n_iter" in meta:
        model.log_likelihood_ = meta_float(meta, "log_likelihood", -1e12, 1e12, where)
        model.n_iter_ = meta_int(meta, "n_iter", 0, 10_000, where)
    if not held:
        return
    check_shape(arrays["chroma"], (frames, 12), "chroma", where)
    n_files = meta_int(meta, "n_files", 1, MAX_FILES, where)
    if arrays["index_paths"].shape != (n_files,):
        raise where.error(f"member 'index_paths' has shape {arrays['index_paths'].shape}, "
                          f"not the {n_files} files its 'n_files' says")
    if model.n_channels_ is None:
        raise where.error("field 'channels' is missing")
    grid = Grid(model.sr_, model.n_channels_, model.wavelet_, model.level_, model.hop_,
                model.bands_per_octave_)
    index = CorpusIndex.from_arrays(arrays, frames, grid, where.error)
    expected = np.repeat(np.arange(n_files), [e.frames for e in index.entries])
    if not np.array_equal(model.track_, expected):
        raise where.error("member 'track' does not follow the files of the index")
    model.chroma_ = arrays["chroma"]
    model.index_ = index


def _float32(make: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    return lambda: np.asarray(make(), dtype=np.float32)


def single_threaded() -> AbstractContextManager[object]:
    """Run scikit-learn and BLAS on one thread inside this context.

    Style features are a few thousand rows of about 20 columns: too little work to share
    out, and OpenMP workers that spin while waiting make k-means and the mixture many times
    slower on a busy machine. One thread also keeps results independent of the core count.

    Examples
    --------
    >>> with single_threaded():
    ...     pass
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def distinct_rows(features: np.ndarray, enough: int) -> int:
    """How many distinct rows ``features`` has (rounded to 9 decimals), or any number of at
    least ``enough`` once that many are found: a long track is not sorted whole for it.

    Examples
    --------
    >>> distinct_rows(np.array([[1.0], [1.0], [2.0]]), 8)
    2
    """
    rounded = 0
    for stop in (4096, len(features)):
        rounded = len(np.unique(features[:stop].round(9), axis=0))
        if rounded >= enough:
            break
    return rounded


def standardisation(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and spreads of ``features``; a constant column gets spread 1.

    Examples
    --------
    >>> standardisation(np.array([[1.0, 5.0], [3.0, 5.0]]))
    (array([2., 5.]), array([1., 1.]))
    """
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def count_transitions(labels: np.ndarray, track: np.ndarray, n_states: int) -> np.ndarray:
    """Row-stochastic matrix of state ``i`` followed by ``j`` within each track (add-one smoothed).

    Examples
    --------
    >>> count_transitions(np.array([0, 0, 1]), np.zeros(3, int), 2)
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    same_track = track[1:] == track[:-1]
    counts = np.ones((n_states, n_states))
    np.add.at(counts, (labels[:-1][same_track], labels[1:][same_track]), 1.0)
    return np.asarray(counts / counts.sum(axis=1, keepdims=True))


def state_statistics(shapes: np.ndarray, labels: np.ndarray,
                     n_states: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of ``shapes`` rows per state; an empty state gets the global ones.

    Examples
    --------
    >>> m, s = state_statistics(np.array([[0.0], [2.0], [5.0]]), np.array([0, 0, 1]), 2)
    >>> m.ravel().tolist(), s.ravel().tolist()
    ([1.0, 5.0], [1.0, 0.001])
    """
    return weighted_statistics(shapes, np.eye(n_states)[labels])


def weighted_statistics(values: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and spread of ``values`` under each column of ``weights``.

    ``values`` is ``(n, d)``, ``weights`` ``(n, k)``; returns two ``(k, d)`` arrays. A state
    with (almost) no weight gets the global mean and spread.
    """
    total = weights.sum(axis=0)[:, None]
    safe = np.maximum(total, 1e-12)
    mean = weights.T @ values / safe
    var = weights.T @ (values * values) / safe - mean * mean
    std = np.sqrt(np.maximum(var, 0.0))
    empty = total[:, 0] < 1e-6
    mean[empty] = values.mean(axis=0)
    std[empty] = values.std(axis=0)
    return mean, np.maximum(std, 1e-3)


def diagonal_gmm_posteriors(z: np.ndarray, means: np.ndarray, variances: np.ndarray,
                            weights: np.ndarray) -> np.ndarray:
    """Posterior state probabilities of rows ``z`` under a diagonal Gaussian mixture.

    Examples
    --------
    >>> p = diagonal_gmm_posteriors(np.zeros((1, 2)), np.array([[0.0, 0], [9, 9]]),
    ...                             np.ones((2, 2)), np.array([0.5, 0.5]))
    >>> p.round(3).tolist()
    [[1.0, 0.0]]
    """
    # the squared distance (z - mean)^2 / variance, expanded: products of matrices
    precision = 1.0 / variances
    scaled_means = means * precision
    constant = (np.log(weights) - 0.5 * np.sum(means * scaled_means + np.log(2 * np.pi * variances),
                                              axis=1))
    log_p = np.empty((z.shape[0], means.shape[0]))
    for start in range(0, z.shape[0], _CHUNK_ROWS):  # bounded temporaries
        rows = z[start: start + _CHUNK_ROWS]
        log_p[start: start + _CHUNK_ROWS] = (rows @ scaled_means.T
                                             - 0.5 * ((rows * rows) @ precision.T) + constant)
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return np.asarray(p / p.sum(axis=1, keepdims=True))
