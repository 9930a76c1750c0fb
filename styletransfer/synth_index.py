"""The index a synthesis walks: a style's frames, states, contexts and jump links.

The *context* of style frame i is what led up to it: the standardised frame features z
(band shape, crest and loudness as the style model sees them, loudness weighted by
`LOUDNESS_WEIGHT`) at lags L = 0, 1, 2, 4, ... up to ``context`` seconds (`context_lags`),
each weighted by ``(1 + L) ** -LAG_DECAY`` and concatenated:
``c_i = [w_L z_(i - L)]_L`` (clamped to the track's first frame). The contexts are
reduced to their first `CONTEXT_DIMS` principal components, and for every frame i one
batched k-d tree query finds the `LINKS` frames j whose predecessor's context is nearest
to c_i and that lie at least ``min_jump`` from i + 1: the places a walk that has just
played i can jump to and be heard to continue. Building costs O(N log N) for N frames;
a jump then costs O(LINKS), never a scan of the style.

Examples
--------
>>> import numpy as np
>>> from styletransfer.synth import prepare
>>> style = np.random.default_rng(0).standard_normal((1, 66150)).astype(np.float32)
>>> index = prepare([(style, 22050)])
>>> index.links.shape[1] == LINKS, bool((index.links[index.room > 0] != 0).all())
(True, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pywt

from .analysis import ENERGY_FLOOR, Analysis
from .errors import ParameterError
from .model import StyleModel, single_threaded

#: Dimensions the contexts are reduced to for the k-d tree.
CONTEXT_DIMS = 16
#: A context's features at lag L weigh ``(1 + L) ** -LAG_DECAY``.
LAG_DECAY = 0.35
#: Jump targets kept per frame.
LINKS = 32
#: Weight of loudness among the standardised features of a context.
LOUDNESS_WEIGHT = 3.0


def edge_frames(wavelet: str, level: int, hop: int) -> int:
    """Frames at each end of a style track whose coefficients the transform's periodic
    extension mixes with the other end: never played.

    Examples
    --------
    >>> edge_frames("sym12", 8, 1024), edge_frames("db4", 3, 256)
    (7, 2)
    """
    support = (pywt.Wavelet(wavelet).dec_len - 1) * (2**level - 1) + 1
    return math.ceil(support / hop) + 1

@dataclass(frozen=True)
class StyleIndex:
    """What the walk needs of a style: its frames, states, contexts and jump links.

    Build with `StyleIndex.build`; arrays run over the style's ``n`` frames (tracks
    concatenated).

    Attributes
    ----------
    style : Analysis
        The style, tracks concatenated (what the plan's segments index).
    labels : np.ndarray
        ``(n,)`` the model state of every frame.
    transitions : np.ndarray
        ``(n_states, n_states)`` the model's state transition probabilities.
    features : np.ndarray
        ``(n, n_features)`` standardised frame features (loudness weighted up).
    lags : np.ndarray
        The lags (frames) a context looks back at, 0 first (`context_lags`).
    coords : np.ndarray
        ``(n, CONTEXT_DIMS)`` every frame's context (what led up to it, itself included)
        in the reduced space the links were found in.
    links : np.ndarray
        ``(n, LINKS)`` int64: the frames a walk that has just played frame ``i`` may jump
        to, nearest context first (-1: none): ``links[i, k] - 1`` has a context like
        ``i``'s and lies at least ``min_jump`` away.
    link_d2 : np.ndarray
        ``(n, LINKS)`` squared context distance of each link (inf: none).
    room : np.ndarray
        ``(n,)`` how many frames can be played in a row from each frame (0: not playable).
    log_energy : np.ndarray
        ``(n, n_bands)`` log band energy of every frame.
    target : np.ndarray
        ``(n_bands,)`` the style's mean log band energy over its playable frames.
    state_shapes : np.ndarray
        ``(n_states, n_bands)`` the states' mean log band shapes (for the plan's record).
    joins : np.ndarray
        ``(n, hop * n_channels)`` float32, unit length: the coefficients (all bands, all
        channels) that frame i's crossfade window rises over, ``i m_b - m_b / 2`` to
        ``i m_b + m_b / 2`` in band b of ``m_b`` coefficients per frame (`_joins`). The
        dot product of two rows is the coherence of a join (as large as the style).
    """

    style: Analysis
    labels: np.ndarray
    transitions: np.ndarray
    features: np.ndarray
    lags: np.ndarray
    coords: np.ndarray
    projection: np.ndarray
    offset: np.ndarray
    links: np.ndarray
    link_d2: np.ndarray
    room: np.ndarray
    log_energy: np.ndarray
    target: np.ndarray
    state_shapes: np.ndarray
    joins: np.ndarray

    @classmethod
    def build(cls, analyses: Sequence[Analysis], model: StyleModel, *,
              context_seconds: float, min_jump_seconds: float) -> StyleIndex:
        """Index the frames of ``analyses`` (style tracks on one grid) for ``model``.

        Raises `ParameterError` when no track is long enough to play from (a few frames
        more than twice `edge_frames`).
        """

        from .styles import concatenate

        style = concatenate(analyses)
        raw = np.vstack([a.features() for a in analyses])
        labels = model.posteriors(raw).argmax(axis=1).astype(np.int64)
        z = (raw - model.mean_) / model.scale_
        z[:, -1] *= LOUDNESS_WEIGHT
        track = np.concatenate([np.full(a.n_frames, i) for i, a in enumerate(analyses)])
        fps = style.sr / style.hop
        lags = context_lags(context_seconds * fps)
        edge = edge_frames(style.wavelet, style.level, style.hop)
        room = _room(track, edge)
        if not room.any():
            shortest = 2 * edge + 5
            raise ParameterError(f"the style is too short to synthesise from: give at least "
                                 f"{shortest * style.hop / style.sr:.2f} s of audio "
                                 f"({shortest} frames) in one track")
        starts = np.array([np.flatnonzero(track == t)[0] for t in range(len(analyses))])
        rows = np.arange(track.size)
        weights = (1.0 + lags.astype(np.float64)) ** -LAG_DECAY
        contexts = np.concatenate([w * z[np.maximum(rows - lag, starts[track])]
                                   for lag, w in zip(lags, weights, strict=True)], axis=1)
        sources = np.flatnonzero(np.roll(room, -1) > 0)  # j such that j + 1 is playable
        centre = contexts[sources].mean(axis=0)
        with single_threaded():
            _, _, vt = np.linalg.svd(contexts[sources] - centre, full_matrices=False)
        basis = vt[:CONTEXT_DIMS].T
        coords = (contexts - centre) @ basis
        links, link_d2 = _links(coords, sources, room, round(min_jump_seconds * fps))
        floor = ENERGY_FLOOR * float(style.energy.sum(axis=1).mean()) / style.n_bands + 1e-30
        log_energy = np.log(style.energy + floor)
        return cls(style=style, labels=labels, transitions=model.transitions_, features=z,
                   lags=lags, coords=coords,
                   projection=np.repeat(weights, z.shape[1])[:, None] * basis,
                   offset=centre @ basis, links=links, link_d2=link_d2, room=room,
                   log_energy=log_energy, target=log_energy[room > 0].mean(axis=0),
                   state_shapes=model.shape_mean_.astype(np.float32),
                   joins=_joins(style))

    @property
    def n_frames(self) -> int:
        return int(self.labels.size)

    def project(self, history: np.ndarray) -> np.ndarray:
        """The reduced context of an output whose last frames were ``history`` (last first)."""
        return np.asarray(self.features[history[self.lags]].ravel() @ self.projection
                          - self.offset)


def context_lags(frames: float) -> np.ndarray:
    """Lags (frames) at which a context looks back: 0, then powers of two up to ``frames``.

    Examples
    --------
    >>> context_lags(21.5).tolist()
    [0, 1, 2, 4, 8, 16]
    """
    top = int(np.floor(np.log2(max(frames, 1.0))))
    return np.array([0] + [2**k for k in range(top + 1)], dtype=np.int64)


def _links(coords: np.ndarray, sources: np.ndarray, room: np.ndarray,
           min_jump: int) -> tuple[np.ndarray, np.ndarray]:
    """For every frame, the `LINKS` nearest jump targets by context (see `StyleIndex`),
    at least ``min_jump`` frames from the frame that would follow: one batched k-d tree
    query over all frames."""
    from scipy.spatial import cKDTree

    tree = cKDTree(coords[sources])
    wanted = int(min(sources.size, LINKS + 2 * min_jump + 2))
    distances, found = tree.query(coords, k=wanted)
    distances = np.asarray(distances).reshape(coords.shape[0], wanted)
    targets = sources[np.asarray(found).reshape(coords.shape[0], wanted)] + 1
    following = np.arange(coords.shape[0])[:, None] + 1
    far = np.abs(targets - following) >= max(min_jump, 1)
    rank = np.cumsum(far, axis=1)
    keep = far & (rank <= LINKS)
    links = np.full((coords.shape[0], LINKS), -1, dtype=np.int64)
    link_d2 = np.full((coords.shape[0], LINKS), np.inf)
    rows, columns = np.nonzero(keep)
    links[rows, rank[rows, columns] - 1] = targets[rows, columns]
    link_d2[rows, rank[rows, columns] - 1] = distances[rows, columns] ** 2
    link_d2[room == 0] = np.inf
    return links, link_d2


def _joins(style: Analysis) -> np.ndarray:
    """The unit-length crossfade regions of every frame (see `StyleIndex.joins`)."""
    n = style.n_frames
    parts = []
    for band in style.coeffs:
        m = band.shape[1] // n
        padded = np.pad(band, ((0, 0), (m // 2, m - m // 2)), mode="edge")[:, : n * m]
        parts.append(padded.reshape(band.shape[0], n, m).transpose(1, 0, 2).reshape(n, -1))
    joins = np.concatenate(parts, axis=1).astype(np.float32)
    joins /= np.sqrt(np.einsum("nd,nd->n", joins, joins))[:, None] + np.float32(1e-30)
    return joins


def _room(track: np.ndarray, edge: int) -> np.ndarray:
    """``(n,)`` frames playable in a row from each frame, ``edge`` frames kept from each
    track's ends (the last playable frame is followed by one more real frame)."""
    room = np.zeros(track.size, dtype=np.int64)
    for number in np.unique(track):
        rows = np.flatnonzero(track == number)
        first, last = rows[0] + edge, rows[-1] - edge
        if last - first >= 4:
            room[first: last + 1] = np.arange(last - first + 1, 0, -1)
    return room
