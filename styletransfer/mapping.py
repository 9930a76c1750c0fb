"""Mapping content frames onto style states.

How it works
------------
1. The content is clustered like a style (a `StyleModel` fitted on the content itself), with
   as many clusters as the style has states.
2. Each content cluster is matched to one style state by an optimal assignment (Hungarian
   algorithm) between the clusters' mixture means, each track standardised on its own: the
   loudest, brightest or most percussive content cluster meets the style state that plays
   the same part in the style.
3. Every content frame gets soft weights over its clusters (mixture posteriors), smoothed
   over ``smoothing`` frames, and its log band shape is moved cluster-wise: the content
   cluster's mean shape is replaced by the matched style state's mean shape and the frame's
   deviation from it is rescaled to the style state's spread. The content keeps its own
   movements (an attack stays brighter than its decay) inside the style's timbre.
4. For the ``mosaic`` mode, `choose_segments` picks one style frame per content frame by
   dynamic programming: close to the mapped target, and continuing the previous style frame
   where it can (a ``continuity`` cost for every jump, lowered for jumps the style's own
   state transitions make often).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .analysis import Analysis
from .model import StyleModel, single_threaded

#: A nearest-neighbour search: (style rows, target rows, k) -> (distances, indices).
Search = Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]]
#: How far a content cluster's spread may be rescaled towards the style state's.
SPREAD_RATIO_LIMITS = (0.25, 2.0)
#: Frames mapped at a time (the per-state temporaries are frames x states x bands).
_CHUNK_FRAMES = 8192
#: Content frames searched for their nearest style frames at a time.
_SEARCH_ROWS = 8192


@dataclass(frozen=True)
class Mapping:
    """Content frames expressed in a style's states.

    Attributes
    ----------
    weights : np.ndarray
        ``(n_frames, n_states)`` weight of each style state in each content frame.
    target_shape : np.ndarray
        ``(n_frames, n_bands)`` mapped log band shape (strength 1).
    target_features : np.ndarray
        ``(n_frames, n_features)`` mapped frame features in the style's standardised space.
    assignment : np.ndarray
        ``(n_content_clusters,)`` the style state matched to each content cluster.
    """

    weights: np.ndarray
    target_shape: np.ndarray
    target_features: np.ndarray
    assignment: np.ndarray

    def states(self) -> np.ndarray:
        """The most likely style state of each frame.

        Smoothing makes exact ties (two states at 0.4, say), which the arithmetic of a
        block and of the whole file may break differently by a rounding step: weights
        within 1e-9 count as equal, and a tie goes to the lowest state.

        Examples
        --------
        >>> weights = np.array([[0.4, 0.2, 0.4 + 1e-15], [0.1, 0.9, 0.0]])
        >>> Mapping(weights, weights, weights, np.arange(3)).states().tolist()
        [0, 1]
        """
        return np.asarray(np.round(self.weights, 9).argmax(axis=1), dtype=np.int64)


def map_content(content: Analysis, model: StyleModel, *, smoothing: int = 5,
                seed: int = 0) -> Mapping:
    """Map every frame of ``content`` onto the states of ``model``.

    Parameters
    ----------
    content : Analysis
        The content track, analysed with the model's settings.
    model : StyleModel
        A fitted style model.
    smoothing : int
        Length in frames of the moving average applied to the state weights (1: none).
    seed : int
        Seed of the content clustering.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> rng = np.random.default_rng(0)
    >>> style = StyleModel(4).fit([analyse(rng.standard_normal((1, 22050)), 22050)])
    >>> m = map_content(analyse(rng.standard_normal((1, 11025)), 22050), style)
    >>> m.target_shape.shape == (22, style.n_bands_)
    True
    """
    from scipy.ndimage import uniform_filter1d
    from scipy.optimize import linear_sum_assignment

    content_model = StyleModel(model.n_states_, seed=seed).fit([content])
    cost = _squared_distances(content_model.means_, model.means_)
    rows, cols = linear_sum_assignment(cost)
    assignment = cost.argmin(axis=1)
    assignment[rows] = cols

    features = content_model.features_  # content.features(), as the fit computed them
    weights = content_model.posteriors(features)
    if smoothing > 1:
        weights = uniform_filter1d(weights, size=int(smoothing), axis=0, mode="nearest")
        weights /= weights.sum(axis=1, keepdims=True)

    shape = features[:, : content.n_bands]  # content.band_shape(), leading the features
    style_mean = model.shape_mean_[assignment]
    ratio = np.clip(model.shape_std_[assignment] / content_model.shape_std_, *SPREAD_RATIO_LIMITS)
    target_shape = np.empty_like(shape)
    for start in range(0, shape.shape[0], _CHUNK_FRAMES):  # bounded temporaries
        rows = slice(start, start + _CHUNK_FRAMES)
        deviation = shape[rows, None, :] - content_model.shape_mean_[None, :, :]
        moved = style_mean[None] + deviation * ratio[None]
        target_shape[rows] = np.einsum("fk,fkb->fb", weights[rows], moved)

    style_weights = weights @ np.eye(model.n_states_)[assignment]
    n_bands = content.n_bands
    target_features = (features - content_model.mean_) / content_model.scale_
    target_features[:, :n_bands] = ((target_shape - model.mean_[:n_bands])
                                    / model.scale_[:n_bands])
    return Mapping(weights=style_weights, target_shape=target_shape,
                   target_features=target_features, assignment=assignment)


def choose_segments(target_features: np.ndarray, model: StyleModel, *, continuity: float = 1.0,
                    n_candidates: int = 8, frames: StyleFrames | None = None,
                    target_chroma: np.ndarray | None = None, pitch: float = 0.0,
                    jump_scale: np.ndarray | None = None,
                    search: Search | None = None) -> np.ndarray:
    """Choose one style frame per content frame, close to the target and mostly continuous.

    Minimises, by dynamic programming over ``n_candidates`` nearest style frames per content
    frame (plus the continuations of the previous frame's candidates), the sum of the mean
    squared feature distances plus ``continuity`` for every jump, a jump costing less where
    the style itself moves often between the two states. At most ``2 * n_candidates`` paths
    are kept per frame, so the cost grows linearly with the content's length.

    Parameters
    ----------
    target_features : np.ndarray
        ``(n_frames, n_features)`` wanted features, in the style's standardised space.
    model : StyleModel
        The fitted style.
    continuity : float
        Cost of a jump (0: every frame picks its nearest style frame).
    n_candidates : int
        Nearest style frames considered per content frame.
    frames : StyleFrames, optional
        The style frames to choose from; by default the model's own (`StyleFrames.of`).
    target_chroma : np.ndarray, optional
        ``(n_frames, 12)`` unit pitch-class profiles of the content frames (`frame_chroma`);
        needs ``frames`` with chroma.
    pitch : float
        Weight of the pitch-class distance ``|c - c'|^2`` (0 to 4 between unit profiles) in
        the cost of a frame, next to the mean squared feature distance (0: pitch ignored).
    jump_scale : np.ndarray, optional
        ``(n_frames,)`` factor on the cost of a jump into each frame (`onset_jump_scale`:
        cheap at the content's attacks, so the mosaic changes fragment where a note starts).
    search : callable, optional
        ``search(style_rows, target_rows, k)`` gives the ``(distances, indices)`` of each
        target row's ``k`` nearest style rows; by default an exact search
        (`sklearn.neighbors.NearestNeighbors`). A corpus of millions of frames passes an
        index that finds them without scoring every frame (`neighbours.CellIndex`).

    Returns
    -------
    np.ndarray
        ``(n_frames,)`` style frame indices (into ``frames``, tracks concatenated).

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> rng = np.random.default_rng(0)
    >>> style = StyleModel(3).fit([analyse(rng.standard_normal((1, 22050)), 22050)])
    >>> target = rng.standard_normal((10, style.features_.shape[1]))
    >>> segments = choose_segments(target, style, continuity=0.5)
    >>> segments.shape, bool(segments.max() < len(style.features_))
    ((10,), True)
    """
    from sklearn.neighbors import NearestNeighbors

    frames = StyleFrames.of(model) if frames is None else frames
    n_features = frames.features.shape[1]
    with_pitch = pitch > 0 and target_chroma is not None and frames.chroma is not None
    # One array for the standardised features and the chroma columns. A corpus's float16
    # features are standardised in float32, which holds them exactly, at half the memory
    # (a million frames and more); other features in float64.
    dtype = np.float32 if frames.features.dtype == np.float16 else np.float64
    chroma_width = frames.chroma.shape[1] if with_pitch and frames.chroma is not None else 0
    style_z = np.empty((frames.features.shape[0], n_features + chroma_width), dtype=dtype)
    np.subtract(frames.features, model.mean_.astype(dtype, copy=False),
                out=style_z[:, :n_features])
    style_z[:, :n_features] /= model.scale_.astype(dtype, copy=False)
    scaled_chroma = None
    if with_pitch and target_chroma is not None and frames.chroma is not None:
        # Extra columns whose mean squared distance adds pitch * |c - c'|^2 to the cost.
        scale = float(np.sqrt(pitch * n_features))  # a float keeps float32 chroma float32
        np.multiply(frames.chroma, scale, out=style_z[:, n_features:])
        scaled_chroma = scale * target_chroma
        n_features = style_z.shape[1]

    def targets(rows: slice) -> np.ndarray:
        """Rows of the targets with their chroma columns (never all at once: an hour of
        frames would hold both copies)."""
        part = target_features[rows]
        return part if scaled_chroma is None else np.hstack([part, scaled_chroma[rows]])

    n_style = style_z.shape[0]
    k = int(min(n_candidates, n_style))
    if search is not None:
        distances, nearest = search(style_z, targets(slice(None)), k)
    else:
        with single_threaded():
            neighbours = NearestNeighbors(n_neighbors=k).fit(style_z)
            # in whole multiples of scikit-learn's 256-row chunks: the same sums as at once
            found = [neighbours.kneighbors(targets(slice(start, start + _SEARCH_ROWS)))
                     for start in range(0, target_features.shape[0], _SEARCH_ROWS)]
            distances = np.concatenate([d for d, _ in found])
            nearest = np.concatenate([n for _, n in found])
            del found
    local_near = distances**2 / n_features
    del distances
    labels, track = frames.labels, frames.track
    jump_cost = continuity * (1.0 + 0.25 * np.log(model.transitions_.max(axis=1, keepdims=True)
                                                  / model.transitions_))
    # Everything the loop can look up instead of computing: the frame that continues each
    # style frame (itself at the very end) and whether that continuation is in the same track.
    successor = np.minimum(np.arange(n_style) + 1, n_style - 1)
    continues = (np.arange(n_style) + 1 < n_style) & (track[successor] == track)
    nearest_labels = labels[nearest]
    n_frames = target_features.shape[0]
    # arrays rather than lists of small arrays: a long track keeps 2k of each per frame
    backpointers = np.zeros((max(n_frames - 1, 0), 2 * k), dtype=np.int32)
    index_type = np.int32 if n_style < 2**31 else np.int64
    candidates_per_frame = np.zeros((max(n_frames - 1, 0), 2 * k), dtype=index_type)
    candidates = nearest[0]
    candidate_labels = nearest_labels[0]
    total = local_near[0]
    columns = np.arange(2 * k)
    for f in range(1, n_frames):
        leaders = candidates[np.argsort(total, kind="stable")[:k]]
        follow = successor[leaders]
        row = (target_features[f] if scaled_chroma is None
               else np.concatenate((target_features[f], scaled_chroma[f])))
        follow_cost = np.sum((style_z[follow] - row) ** 2, axis=1) / n_features
        new = np.concatenate([nearest[f], follow])
        new_labels = np.concatenate([nearest_labels[f], labels[follow]])
        new_local = np.concatenate([local_near[f],
                                    np.where(continues[leaders], follow_cost, np.inf)])
        step = jump_cost[candidate_labels[:, None], new_labels[None, :]]
        if jump_scale is not None:
            step *= jump_scale[f]
        step[new[None, :] == candidates[:, None] + 1] = 0.0
        through = total[:, None] + step
        best = through.argmin(axis=0)
        backpointers[f - 1] = best
        candidates_per_frame[f - 1, : candidates.size] = candidates
        candidates, candidate_labels = new, new_labels
        total = through[best, columns] + new_local
    choice = int(np.argmin(total))
    segments = np.empty(n_frames, dtype=np.int64)
    segments[-1] = candidates[choice]
    for f in range(n_frames - 1, 0, -1):
        choice = int(backpointers[f - 1][choice])
        segments[f - 1] = candidates_per_frame[f - 1][choice]
    return segments


def search_segments(content: Analysis, model: StyleModel, target_features: np.ndarray,
                    frames: StyleFrames, *, continuity: float, pitch: float,
                    onset_jumps: float, search: Search | None = None,
                    target_chroma: np.ndarray | None = None) -> np.ndarray:
    """`choose_segments` for ``content``: with ``pitch``, the content frames' chroma is
    matched (when ``frames`` hold chroma); with ``onset_jumps``, jumps are cheaper at its
    attacks (`onset_jump_scale`); ``search`` as for `choose_segments`. What a mosaic plays,
    and where timbre mode's ``frames`` targets come from. ``target_chroma`` is the
    content's `frame_chroma` when it has been computed already (a content read in blocks
    has no signal to compute it from).

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> rng = np.random.default_rng(0)
    >>> a = analyse(rng.standard_normal((1, 22050)), 22050)
    >>> style = StyleModel(3).fit([a])
    >>> mapped = map_content(a, style)
    >>> search_segments(a, style, mapped.target_features, StyleFrames.of(style),
    ...                 continuity=1.0, pitch=0.0, onset_jumps=0.5).shape
    (44,)
    """
    from .profiles import frame_chroma

    if pitch <= 0 or frames.chroma is None:
        target_chroma = None
    elif target_chroma is None:
        target_chroma = frame_chroma(content.signal, content.sr, content.hop, content.n_frames)
    jump_scale = (onset_jump_scale(content, floor=1.0 - onset_jumps) if onset_jumps > 0
                  else None)
    return choose_segments(target_features, model, continuity=continuity, frames=frames,
                           target_chroma=target_chroma, pitch=pitch, jump_scale=jump_scale,
                           search=search)


def onset_jump_scale(content: Analysis, *, floor: float = 0.1) -> np.ndarray:
    """``(n_frames,)`` factor on the jump cost: ``floor`` at the content's strongest attacks,
    1 where nothing starts.

    The attack strength of a frame is its spectral flux over the wavelet bands: the sum of
    the rises of log band energy from the frame before (bands more than 30 dB below the mean
    band energy count as that level, so noise in quiet passages does not count), divided by
    its 95th percentile over the track and clipped to 1.

    Examples
    --------
    >>> from styletransfer.analysis import analyse
    >>> y = np.zeros((1, 8192))
    >>> y[0, 4096:] = np.random.default_rng(0).standard_normal(4096)
    >>> scale = onset_jump_scale(analyse(y, 22050, level=4))
    >>> int(scale.argmin()), round(float(scale.min()), 3), float(scale[:7].min())
    (8, 0.1, 1.0)
    """
    energy = content.energy
    level = np.log(energy + 1e-3 * float(np.mean(energy)) + 1e-30)
    flux = np.zeros(content.n_frames)
    flux[1:] = np.maximum(np.diff(level, axis=0), 0.0).sum(axis=1)
    top = float(np.percentile(flux, 95)) if flux.size else 0.0
    strength = np.clip(flux / top, 0.0, 1.0) if top > 0 else np.zeros_like(flux)
    return np.asarray(1.0 - (1.0 - floor) * strength)


@dataclass(frozen=True)
class StyleFrames:
    """The style frames a mosaic can play, with what `choose_segments` compares.

    Attributes
    ----------
    features : np.ndarray
        ``(n_frames, n_features)`` raw frame features (`Analysis.features`).
    labels : np.ndarray
        ``(n_frames,)`` the style state of each frame.
    track : np.ndarray
        ``(n_frames,)`` which track each frame belongs to (no continuation across tracks).
    chroma : np.ndarray or None
        ``(n_frames, 12)`` unit pitch-class profiles, when pitch is matched.
    """

    features: np.ndarray
    labels: np.ndarray
    track: np.ndarray
    chroma: np.ndarray | None = None

    @classmethod
    def of(cls, model: StyleModel) -> StyleFrames:
        """The frames ``model`` was fitted on (no chroma)."""
        return cls(features=model.features_, labels=model.labels_, track=model.track_)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    diff = a[:, None, :] - b[None, :, :]
    return np.asarray(np.sum(diff * diff, axis=2))
