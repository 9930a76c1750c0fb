"""Nearest frames among millions: an inverted-file index over k-means cells.

Exact search over a corpus scores every frame for every query (8 hours of audio are 1.3
million frames: over a minute for a 3-minute content), and trees do no better in the 17
to 29 dimensions of frame features (a k-d tree took longer still). `CellIndex` groups
the frames into cells, two levels of k-means (Lloyd's steps on a sample: coarse cells,
each split into fine ones, so placing a million frames costs a few dozen distances each,
not thousands). A query measures its distance to the cells' centres and scores exactly
only the frames of its `PROBES` nearest cells. The k nearest of those are returned: the
true nearest when they lie in the cells probed, which for nearly every query they do
(`benchmarks/scale.py` prints the share). Below `EXACT_ROWS` rows the search is exact
(`sklearn.neighbors.NearestNeighbors`).
"""

from __future__ import annotations

import numpy as np

from .model import single_threaded

#: Fewest rows for which the cell index is used instead of an exact search.
EXACT_ROWS = 200_000
#: Rows per cell (on average) and most cells; cells probed per query; sample rows per cell
#: the cells are found on.
ROWS_PER_CELL, MAX_CELLS, PROBES, SAMPLE_PER_CELL = 512, 4096, 24, 32
_ROWS = 1 << 13
_QUERY_ROWS = 1 << 10


class CellIndex:
    """Nearest rows of ``points`` (``(n, d)``) by Euclidean distance.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> points = rng.standard_normal((5000, 4))
    >>> index = CellIndex(points, cells=32, seed=0)
    >>> d, i = index.query(points[:3] + 0.01, 2)
    >>> i[:, 0].tolist()
    [0, 1, 2]
    """

    def __init__(self, points: np.ndarray, *, cells: int | None = None, seed: int = 0,
                 probes: int = PROBES) -> None:
        n = points.shape[0]
        cells = int(np.clip(n // ROWS_PER_CELL, 1, MAX_CELLS)) if cells is None else cells
        cells = max(1, min(int(cells), n))
        with single_threaded():
            self.centres, cell = _two_level_cells(points, cells, seed)
        self.points = points  # not copied: the rows of a cell are gathered when scored
        self.order = np.argsort(cell, kind="stable")
        self.starts = np.searchsorted(cell[self.order], np.arange(len(self.centres) + 1))
        self.norms = np.concatenate([np.einsum("ij,ij->i", rows, rows) for rows in (
            np.asarray(points[s:s + _ROWS], dtype=np.float64) for s in range(0, n, _ROWS))])
        self.probes = min(probes, len(self.centres))

    def query(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``(distances, indices)``, each ``(n_queries, k)``, nearest first.

        Work goes cell by cell: the queries that probe a cell are scored against its rows
        at once, and each keeps its ``k`` best there; the best of those are then measured
        again exactly.
        """
        queries = np.asarray(queries, dtype=np.float64)
        n_queries, probes = len(queries), self.probes
        k = min(k, len(self.points))
        pool = np.full((n_queries, probes * k), np.inf)
        found = np.zeros((n_queries, probes * k), dtype=np.int64)
        with single_threaded():
            probed = np.concatenate([  # in small pieces: argpartition's indices are int64
                self._nearest_cells(queries[s:s + _QUERY_ROWS].astype(np.float32), probes)
                for s in range(0, n_queries, _QUERY_ROWS)])
            pairs = np.argsort(probed.ravel(), kind="stable")
            bounds = np.searchsorted(probed.ravel()[pairs], np.arange(len(self.centres) + 1))
            for cell in np.flatnonzero(np.diff(bounds)):
                members = self.order[self.starts[cell]:self.starts[cell + 1]]
                if members.size == 0:
                    continue
                mine = pairs[bounds[cell]:bounds[cell + 1]]
                who, slot = mine // probes, mine % probes
                squared = (self.norms[members][None, :]
                           - 2.0 * queries[who] @ np.asarray(self.points[members]).T)
                keep = min(k, members.size)
                best = (np.argpartition(squared, keep - 1, axis=1)[:, :keep]
                        if members.size > keep else
                        np.broadcast_to(np.arange(keep), (len(who), keep)))
                columns = slot[:, None] * k + np.arange(keep)[None, :]
                pool[who[:, None], columns] = np.take_along_axis(squared, best, axis=1)
                found[who[:, None], columns] = members[best]
            short = np.isinf(pool).sum(axis=1) > pool.shape[1] - k
            top = np.argpartition(pool, k - 1, axis=1)[:, :k]
            rows = np.take_along_axis(found, top, axis=1)
            for row in np.flatnonzero(short):  # too few rows in its cells: score them all
                squared = self.norms - 2.0 * np.asarray(self.points) @ queries[row]
                rows[row] = np.argsort(squared, kind="stable")[:k]
            diff = np.asarray(self.points[rows], dtype=np.float64) - queries[:, None, :]
            squared = np.einsum("qkd,qkd->qk", diff, diff)
            order = np.argsort(squared, axis=1, kind="stable")
        return (np.sqrt(np.take_along_axis(squared, order, axis=1)),
                np.take_along_axis(rows, order, axis=1))

    def _nearest_cells(self, rows: np.ndarray, count: int) -> np.ndarray:
        squared = ((self.centres * self.centres).sum(axis=1)[None, :]
                   - 2.0 * rows @ self.centres.T)
        if count >= squared.shape[1]:
            return np.argsort(squared, axis=1)
        near = np.argpartition(squared, count - 1, axis=1)[:, :count]
        return np.take_along_axis(near, np.argsort(np.take_along_axis(squared, near, 1), 1), 1)


def _two_level_cells(points: np.ndarray, cells: int,
                     seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres and every row's cell: k-means of a sample into about sqrt(``cells``)
    coarse cells, each split by k-means of its share of the sample; a row goes to the
    nearest fine cell of its nearest coarse cell (far fewer distances than to them all)."""
    rng = np.random.default_rng(seed)
    n = len(points)
    sample = points[np.sort(rng.choice(n, size=min(n, cells * SAMPLE_PER_CELL),
                                       replace=False))].astype(np.float32)
    coarse_count = max(1, min(cells, round(np.sqrt(cells))))
    coarse = _lloyd(sample, coarse_count, rng)
    of_sample = _nearest(sample, coarse)
    fine: list[np.ndarray] = []
    for c in range(coarse_count):
        members = sample[of_sample == c]
        wanted = max(1, round(cells * len(members) / len(sample)))
        fine.append(_lloyd(members, min(wanted, len(members)), rng) if len(members)
                    else coarse[c:c + 1])
    first = np.concatenate([[0], np.cumsum([len(f) for f in fine])])
    cell = np.empty(n, dtype=np.int64)
    for start in range(0, n, _ROWS):
        rows = np.asarray(points[start:start + _ROWS], dtype=np.float32)
        group = _nearest(rows, coarse)
        out = np.empty(len(rows), dtype=np.int64)
        for c in np.unique(group):
            mine = group == c
            out[mine] = first[c] + _nearest(rows[mine], fine[c])
        cell[start:start + _ROWS] = out
    return np.vstack(fine), cell


def _lloyd(sample: np.ndarray, count: int, rng: np.random.Generator,
           steps: int = 6) -> np.ndarray:
    """``count`` k-means centres of ``sample``: Lloyd's steps from random rows."""
    centres = sample[rng.choice(len(sample), size=count, replace=False)].copy()
    for _ in range(steps):
        nearest = np.concatenate([_nearest(sample[s:s + _ROWS], centres)
                                  for s in range(0, len(sample), _ROWS)])
        order = np.argsort(nearest, kind="stable")
        counts = np.bincount(nearest, minlength=count)
        filled = np.flatnonzero(counts)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        sums = np.add.reduceat(sample[order], first, axis=0)
        centres[filled] = sums / counts[filled, None]
    return centres


def _nearest(rows: np.ndarray, centres: np.ndarray) -> np.ndarray:
    squared = (centres * centres).sum(axis=1)[None, :] - 2.0 * rows @ centres.T
    return np.asarray(squared.argmin(axis=1))


def corpus_search(points: np.ndarray, queries: np.ndarray,
                  k: int) -> tuple[np.ndarray, np.ndarray]:
    """A `mapping.Search`: exact for fewer than `EXACT_ROWS` rows, else a `CellIndex`."""
    if len(points) < EXACT_ROWS:
        from sklearn.neighbors import NearestNeighbors

        with single_threaded():
            found = NearestNeighbors(n_neighbors=k).fit(points).kneighbors(queries)
        return np.asarray(found[0]), np.asarray(found[1])
    return CellIndex(points).query(queries, k)
