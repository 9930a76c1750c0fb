"""StyleModel: the states of a style, learnt with k-means and a Gaussian mixture.

Frame features (band shape, crest, loudness; see `Analysis.features`) of one or many style
tracks are standardised, a k-means codebook is fitted, and a diagonal Gaussian mixture
started from that codebook gives the style's states. For every state the model keeps the
mean and spread of the log band shape, and it counts how states follow each other.

Models are saved as ``.npz`` holding only numeric arrays plus one JSON string of settings:
loading never runs code (``allow_pickle=False``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import AbstractContextManager

import numpy as np

from .analysis import Analysis
from .archive import load_archive, save_archive
from .errors import ParameterError

FORMAT_VERSION = 1
ARCHIVE_KIND = "style model"


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
    sr_, wavelet_, level_, hop_ : analysis settings the model was fitted with.

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
        features = np.vstack([a.features() for a in analyses])
        shapes = np.vstack([a.band_shape() for a in analyses])
        track = np.concatenate([np.full(a.n_frames, i) for i, a in enumerate(analyses)])
        n_states = int(min(self.n_states, len(np.unique(features.round(9), axis=0))))
        mean, scale = standardisation(features)
        z = (features - mean) / scale

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
             audio: Sequence[np.ndarray] | None = None) -> None:
        """Save as ``.npz`` (numeric arrays and one JSON string; no pickle).

        ``audio`` (the style tracks, each ``(n_channels, n_samples)`` at ``sr_``) is stored
        too when given, so a saved style can also drive the ``mosaic`` mode and be learnt
        again at other rates or settings.
        """
        self._check_fitted()
        tracks = list(audio or [])
        meta = {"n_states": self.n_states, "seed": self.seed, "sr": self.sr_,
                "wavelet": self.wavelet_, "level": self.level_, "hop": self.hop_,
                "n_bands": self.n_bands_, "bands_per_octave": self.bands_per_octave_,
                "n_tracks": len(tracks)}
        arrays = {name: np.asarray(getattr(self, name + "_")) for name in _ARRAYS}
        for index, track in enumerate(tracks):
            arrays[f"audio_{index}"] = np.asarray(track, dtype=np.float32)
        save_archive(path, ARCHIVE_KIND, FORMAT_VERSION, meta, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> tuple[StyleModel, list[np.ndarray]]:
        """Load a model saved by `save`; returns ``(model, style tracks)`` (the list may be empty).

        Raises `ParameterError` for a file that is not a style model.
        """
        meta, arrays = load_archive(path, ARCHIVE_KIND, FORMAT_VERSION,
                                    hint="make one with 'styletransfer learn'")
        try:
            model = cls(n_states=int(meta["n_states"]), seed=int(meta["seed"]))
            for name in _ARRAYS:
                setattr(model, name + "_", arrays[name])
            audio = [arrays[f"audio_{i}"] for i in range(int(meta["n_tracks"]))]
            model.sr_, model.wavelet_ = int(meta["sr"]), str(meta["wavelet"])
            model.level_, model.hop_ = int(meta["level"]), int(meta["hop"])
            model.n_bands_ = int(meta["n_bands"])
            model.bands_per_octave_ = int(meta.get("bands_per_octave", 1))
        except (KeyError, ValueError, TypeError) as exc:
            raise ParameterError(f"{path}: style model is incomplete (missing {exc}): "
                                 "learn it again with 'styletransfer learn'") from None
        model.n_states_ = int(model.means_.shape[0])
        return model, audio

    def _check_fitted(self) -> None:
        if not hasattr(self, "means_"):
            raise NotFittedError("this StyleModel is not fitted yet: call fit() first")


_ARRAYS = ("mean", "scale", "codebook", "means", "variances", "weights", "labels",
           "features", "track", "transitions", "shape_mean", "shape_std")


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
    diff = z[:, None, :] - means[None, :, :]
    log_p = (-0.5 * np.sum(diff * diff / variances[None] + np.log(2 * np.pi * variances[None]),
                           axis=2) + np.log(weights)[None, :])
    log_p -= log_p.max(axis=1, keepdims=True)
    p = np.exp(log_p)
    return np.asarray(p / p.sum(axis=1, keepdims=True))
