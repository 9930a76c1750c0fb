"""A style's states learnt from features held in shards: k-means and an exact streaming EM.

The frames of a corpus are split into *shards* (whole files, in order, `SHARD_FRAMES` or
more frames each); every step below is a function of one shard, and the caller runs it on
every shard and passes back the results in shard order, wherever the shards live (in this
process, in worker threads, on Dask workers). Only sums and counts travel, and they are
added up in shard order, so the result does not depend on where or how many the workers
are.

1. Standardisation: per-shard counts, means and squared deviations, merged exactly.
2. k-means: `sklearn.cluster.MiniBatchKMeans.partial_fit` on shuffled batches of a sample
   of the frames (at most `KMEANS_SAMPLE`, drawn from every shard), then Lloyd steps over
   all frames (per-cluster counts and sums) until the centres settle.
3. The diagonal Gaussian mixture: expectation-maximisation in which each pass accumulates,
   per component, the responsibilities' count, their sums and their sums of squares over
   the shards. It is exactly scikit-learn's `GaussianMixture` EM (the same E-step, M-step,
   ``reg_covar`` and stopping rule), started from the k-means clusters' weights, centres
   and spreads.
4. A last pass labels every frame with its most likely state and counts the state
   transitions within each file and each state's band shapes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .model import single_threaded

#: Fewest frames per shard (whole files are never split).
SHARD_FRAMES = 1 << 16
#: Rows of a shard processed at once (bounds scratch memory).
CHUNK_ROWS = 1 << 15
#: Most frames the mini-batch k-means sees, and its batch size and passes over them.
KMEANS_SAMPLE, KMEANS_BATCH, KMEANS_EPOCHS = 1 << 17, 4096, 5
#: Most Lloyd steps over all frames after the mini-batch k-means, and their tolerance
#: (squared centre movement, in standardised units).
LLOYD_STEPS, LLOYD_TOL = 20, 1e-4
#: The mixture: regularisation of variances, stopping rule and most passes, as in
#: `StyleModel.fit`.
REG_COVAR, EM_TOL, EM_MAX_ITER = 1e-3, 1e-3, 100


@dataclass(frozen=True)
class Shard:
    """Frames of whole files, in order.

    Attributes
    ----------
    features : np.ndarray
        ``(n_frames, n_features)`` raw frame features (float16 as stored in a model).
    starts : np.ndarray
        ``(n_files,)`` the row each file starts at (the first is 0).
    index : int
        The shard's number (it seeds the shard's share of the k-means sample).
    """

    features: np.ndarray
    starts: np.ndarray
    index: int = 0

    @property
    def n_frames(self) -> int:
        return int(self.features.shape[0])


def shard_layout(file_frames: Sequence[int], shard_frames: int = SHARD_FRAMES) -> list[range]:
    """Consecutive files grouped into shards of at least ``shard_frames`` frames.

    Examples
    --------
    >>> shard_layout([5, 5, 5, 2], 8)
    [range(0, 2), range(2, 4)]
    """
    groups, first, count = [], 0, 0
    for index, frames in enumerate(file_frames):
        count += frames
        if count >= shard_frames:
            groups.append(range(first, index + 1))
            first, count = index + 1, 0
    if first < len(file_frames):
        if groups and count < shard_frames // 2:
            groups[-1] = range(groups[-1].start, len(file_frames))
        else:
            groups.append(range(first, len(file_frames)))
    return groups


@dataclass(frozen=True)
class States:
    """What `fit_states` learns (the fitted arrays of a `StyleModel`)."""

    mean: np.ndarray
    scale: np.ndarray
    codebook: np.ndarray
    means: np.ndarray
    variances: np.ndarray
    weights: np.ndarray
    labels: np.ndarray
    transitions: np.ndarray
    shape_mean: np.ndarray
    shape_std: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool


#: Runs a shard function on every shard: ``run(function, **arguments)`` returns the
#: results in shard order.
ShardMap = Callable[..., list[Any]]


def fit_states(run: ShardMap, sizes: Sequence[int], *, n_states: int, n_bands: int,
               seed: int = 0, max_iter: int = EM_MAX_ITER,
               on_pass: Callable[[str], None] | None = None) -> States:
    """Learn a style's states from features held in shards (see the module notes).

    Parameters
    ----------
    run : callable
        ``run(function, **arguments)``: ``function(shard, **arguments)`` on every shard,
        results in shard order.
    sizes : sequence of int
        Frames per shard.
    n_states : int
        States wanted (fewer if the frames hold fewer distinct rows).
    n_bands : int
        Bands of the analysis (the first ``n_bands`` features are the band shape).
    seed : int
        Seeds the k-means sample, its batches and its initialisation.
    on_pass : callable, optional
        Called with a short description before every pass over the shards.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> shards = [Shard(rng.standard_normal((300, 3)).astype(np.float16), np.array([0]), i)
    ...           for i in range(2)]
    >>> def run(function, **arguments):
    ...     return [function(shard, **arguments) for shard in shards]
    >>> states = fit_states(run, [300, 300], n_states=2, n_bands=1)
    >>> states.means.shape, states.labels.shape
    ((2, 3), (600,))
    """
    note = on_pass or (lambda _: None)
    note("standardising")
    mean, std, n_rows = merge_moments(run(shard_moments))
    scale = std.copy()
    scale[scale < 1e-9] = 1.0
    distinct = np.unique(np.vstack(run(shard_distinct)), axis=0)
    n_states = int(min(n_states, len(distinct)))

    note("k-means")
    centres = minibatch_centres(np.vstack(run(shard_sample, take=_takes(sizes), seed=seed)),
                                mean, scale, n_states, seed)
    for _ in range(LLOYD_STEPS):
        counts, sums, _ = _added(run(shard_assign, centres=centres, mean=mean, scale=scale))
        moved = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centres)
        shift = float(np.sum((moved - centres) ** 2))
        centres = moved
        if shift <= LLOYD_TOL:
            break
    counts, sums, squares = _added(run(shard_assign, centres=centres, mean=mean, scale=scale))
    eps = 10 * np.finfo(np.float64).eps
    nk = counts + eps
    weights = nk / nk.sum()
    spread = squares / nk[:, None] - (sums / nk[:, None]) ** 2 + REG_COVAR
    variances = np.where(counts[:, None] > 0, spread, 1.0)
    means = centres.copy()

    lower_bound, converged, n_iter = -np.inf, False, 0
    for n_iter in range(1, max_iter + 1):
        note(f"mixture, pass {n_iter}")
        loglik, nk, sx, sxx = _added(run(shard_em, means=means, variances=variances,
                                         weights=weights, mean=mean, scale=scale))
        previous, lower_bound = lower_bound, float(loglik) / n_rows
        nk = nk + eps
        means = sx / nk[:, None]
        variances = sxx / nk[:, None] - means**2 + REG_COVAR
        weights = nk / nk.sum()
        if abs(lower_bound - previous) < EM_TOL:
            converged = True
            break

    note("labelling")
    parts = run(shard_labels, means=means, variances=variances, weights=weights, mean=mean,
                scale=scale, n_bands=n_bands)
    labels = np.concatenate([p[0] for p in parts]).astype(np.uint8)
    loglik_final, pairs, shape_n, shape_sum, shape_sq = _added([p[1:] for p in parts])
    transitions = pairs + 1.0
    transitions /= transitions.sum(axis=1, keepdims=True)
    shape_mean, shape_std = _state_shapes(shape_n, shape_sum, shape_sq, mean[:n_bands],
                                          std[:n_bands])
    return States(mean=mean, scale=scale, codebook=centres, means=means,
                  variances=variances, weights=weights, labels=labels,
                  transitions=transitions, shape_mean=shape_mean, shape_std=shape_std,
                  log_likelihood=float(loglik_final) / n_rows, n_iter=n_iter,
                  converged=converged)


# -- per-shard functions (run wherever the shard is) ------------------------------------

def shard_moments(shard: Shard) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, column means and column sums of squared deviations of a shard's features."""
    x = shard.features.astype(np.float64, order="F")
    mean = x.mean(axis=0)
    return len(x), mean, ((x - mean) ** 2).sum(axis=0)


def shard_distinct(shard: Shard, limit: int = 64) -> np.ndarray:
    """Up to ``limit`` distinct feature rows of a shard (enough to bound the states)."""
    return np.unique(shard.features, axis=0)[:limit]


def shard_sample(shard: Shard, *, take: Sequence[int], seed: int) -> np.ndarray:
    """``take[shard.index]`` rows of the shard drawn at random (seeded by ``seed`` and the
    shard's number), in their order."""
    count = take[shard.index]
    if count >= shard.n_frames:
        return shard.features
    rng = np.random.default_rng([seed, shard.index])
    rows = np.sort(rng.choice(shard.n_frames, size=count, replace=False))
    return shard.features[rows]


def shard_assign(shard: Shard, *, centres: np.ndarray, mean: np.ndarray,
                 scale: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per nearest centre: count, sum and sum of squares of the standardised frames."""
    k, d = centres.shape
    counts, sums, squares = np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
    with single_threaded():
        for z in _chunks(shard, mean, scale):
            distance = (centres * centres).sum(axis=1)[:, None] - 2 * centres @ z
            onehot = _onehot(distance.argmin(axis=0), k)
            counts += onehot.sum(axis=1)
            sums += onehot @ z.T
            squares += onehot @ (z * z).T
    return counts, sums, squares


def shard_em(shard: Shard, *, means: np.ndarray, variances: np.ndarray, weights: np.ndarray,
             mean: np.ndarray, scale: np.ndarray,
             ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """One E-step over a shard: total log-likelihood, and per component the
    responsibilities' sum, their weighted sums and weighted sums of squares."""
    k, d = means.shape
    loglik, nk, sx, sxx = 0.0, np.zeros(k), np.zeros((k, d)), np.zeros((k, d))
    with single_threaded():
        for z in _chunks(shard, mean, scale):
            squared = z * z
            norm, resp = _responsibilities(z, squared, means, variances, weights)
            loglik += float(norm.sum())
            nk += resp.sum(axis=1)
            sx += resp @ z.T
            sxx += resp @ squared.T
    return loglik, nk, sx, sxx


def shard_labels(shard: Shard, *, means: np.ndarray, variances: np.ndarray,
                 weights: np.ndarray, mean: np.ndarray, scale: np.ndarray, n_bands: int,
                 ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Most likely state of every frame, the log-likelihood, state transitions within
    files, and per state the count, sum and sum of squares of the raw band shapes."""
    k = means.shape[0]
    labels, loglik = [], 0.0
    shape_n, shape_sum, shape_sq = np.zeros(k), np.zeros((k, n_bands)), np.zeros((k, n_bands))
    with single_threaded():
        for number, z in enumerate(_chunks(shard, mean, scale)):
            norm, resp = _responsibilities(z, z * z, means, variances, weights)
            loglik += float(norm.sum())
            chunk_labels = resp.argmax(axis=0)
            labels.append(chunk_labels)
            first = number * CHUNK_ROWS
            shapes = shard.features.T[:n_bands, first:first + z.shape[1]].astype(
                np.float64, order="C")
            onehot = _onehot(chunk_labels, k)
            shape_n += onehot.sum(axis=1)
            shape_sum += onehot @ shapes.T
            shape_sq += onehot @ (shapes * shapes).T
    all_labels = np.concatenate(labels)
    follows = np.ones(shard.n_frames, dtype=bool)
    follows[shard.starts] = False  # a file's first frame follows nothing
    pairs = np.zeros((k, k))
    np.add.at(pairs, (all_labels[:-1][follows[1:]], all_labels[1:][follows[1:]]), 1.0)
    return all_labels, loglik, pairs, shape_n, shape_sum, shape_sq


# -- helpers ------------------------------------------------------------------------------

def merge_moments(parts: Sequence[tuple[int, np.ndarray, np.ndarray]],
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean, standard deviation and count of all rows from per-shard moments (Chan et al.).

    Examples
    --------
    >>> x = np.arange(10.0)[:, None]
    >>> parts = [(len(p), p.mean(0), ((p - p.mean(0)) ** 2).sum(0)) for p in (x[:3], x[3:])]
    >>> mean, std, n = merge_moments(parts)
    >>> float(mean[0]), bool(np.isclose(std[0], x.std())), n
    (4.5, True, 10)
    """
    n, mean, m2 = parts[0][0], parts[0][1].copy(), parts[0][2].copy()
    for count, part_mean, part_m2 in parts[1:]:
        total = n + count
        delta = part_mean - mean
        mean = mean + delta * count / total
        m2 = m2 + part_m2 + delta**2 * n * count / total
        n = total
    return mean, np.sqrt(m2 / n), int(n)


def minibatch_centres(sample: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                      n_states: int, seed: int) -> np.ndarray:
    """Centres found by `MiniBatchKMeans.partial_fit` on shuffled batches of ``sample``."""
    from sklearn.cluster import MiniBatchKMeans

    z = (sample.astype(np.float64) - mean) / scale
    z = z[np.random.default_rng(seed).permutation(len(z))]
    batch = max(KMEANS_BATCH, n_states)
    kmeans = MiniBatchKMeans(n_clusters=n_states, batch_size=batch, random_state=seed,
                             n_init=1)
    with single_threaded(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "fewer distinct points than clusters" on tiny data
        for _ in range(KMEANS_EPOCHS):
            for start in range(0, len(z), batch):
                rows = z[start:start + batch]
                if start == 0 or len(rows) >= n_states:
                    kmeans.partial_fit(rows)
    return np.asarray(kmeans.cluster_centers_, dtype=np.float64)


def _takes(sizes: Sequence[int]) -> list[int]:
    """Rows each shard gives to the k-means sample: the same share of every shard."""
    total = sum(sizes)
    share = min(1.0, KMEANS_SAMPLE / total)
    return [size if share >= 1.0 else max(1, math.floor(size * share)) for size in sizes]


def _chunks(shard: Shard, mean: np.ndarray, scale: np.ndarray) -> Any:
    """The shard's standardised features, ``CHUNK_ROWS`` frames at a time, transposed:
    ``(n_features, n)`` float64 (long inner loops for numpy)."""
    columns = shard.features.T
    shift, factor = mean[:, None], (1.0 / scale)[:, None]
    for start in range(0, shard.n_frames, CHUNK_ROWS):
        z = columns[:, start:start + CHUNK_ROWS].astype(np.float64, order="C")
        z -= shift
        z *= factor
        yield z


def _onehot(labels: np.ndarray, k: int) -> np.ndarray:
    """``(k, n)`` indicator of each column's label."""
    out = np.zeros((k, labels.size))
    out[labels, np.arange(labels.size)] = 1.0
    return out


def _responsibilities(z: np.ndarray, squared: np.ndarray, means: np.ndarray,
                      variances: np.ndarray, weights: np.ndarray,
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``z`` (standardised frames, ``(n_features, n)``; ``squared`` = z * z):
    the log of the mixture density, and the ``(n_states, n)`` responsibilities, computed
    as scikit-learn's diagonal `GaussianMixture` computes them."""
    precisions = 1.0 / variances
    constant = (np.sum(means**2 * precisions, axis=1) + z.shape[0] * np.log(2 * np.pi)
                + np.sum(np.log(variances), axis=1) - 2.0 * np.log(weights))
    weighted = -0.5 * (constant[:, None] - 2.0 * ((means * precisions) @ z)
                       + precisions @ squared)
    top = weighted.max(axis=0)
    weighted -= top
    np.exp(weighted, out=weighted)
    total = weighted.sum(axis=0)
    weighted /= total
    return np.log(total) + top, weighted


def _added(parts: Sequence[Sequence[Any]]) -> list[Any]:
    """Element-wise sums of per-shard results, added in shard order."""
    totals = [np.array(value, dtype=np.float64, copy=True) for value in parts[0]]
    for part in parts[1:]:
        for total, value in zip(totals, part, strict=True):
            total += value
    return totals


def _state_shapes(counts: np.ndarray, sums: np.ndarray, squares: np.ndarray,
                  global_mean: np.ndarray, global_std: np.ndarray,
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Per state mean and spread of the band shape (as `model.weighted_statistics`)."""
    safe = np.maximum(counts, 1e-12)[:, None]
    mean = sums / safe
    std = np.sqrt(np.maximum(squares / safe - mean * mean, 0.0))
    empty = counts < 1e-6
    mean[empty] = global_mean
    std[empty] = global_std
    return mean, np.maximum(std, 1e-3)
