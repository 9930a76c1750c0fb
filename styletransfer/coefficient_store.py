"""The content's wavelet coefficients, kept frame by frame between two passes over blocks.

The feature pass of a streamed run (`stream.content_features`) transforms every block of
the content; a timbre rendering (`stream_render.render_to_file`) would transform the same
blocks again for its unshifted rendering. A `CoefficientStore` keeps the core coefficients
of the first pass in an anonymous temporary file, and hands back those of any run of
frames, so the rendering reads them instead. The core coefficients of a block are the
whole track's, so a rendering from them equals the whole-file rendering as before.

The file holds float32 values, frame after frame, each frame its channels one after the
other, each channel its bands' coefficients of that frame lowest band first: a run of
frames is one read. It is written and read with positional calls, never mapped, so the
coefficients of an hour of audio stay on disk (or in the page cache) and out of the
process's memory.

Examples
--------
>>> from styletransfer.analysis import decompose
>>> from styletransfer.blocks import GridSettings
>>> grid = GridSettings("db4", 3, 64)
>>> y = np.random.default_rng(0).standard_normal((2, 640)).astype(np.float32)
>>> bands = decompose(y, wavelet="db4", level=3, hop=64)
>>> with CoefficientStore(grid, n_channels=2, n_frames=10, exponent=0) as store:
...     store.write(0, store.pack(bands, margin=0, count=10))
...     back = store.bands(np.array([8, 9, 0, 1]))
>>> m = 64 // 2**3  # coefficients per frame in the lowest band
>>> bool(np.array_equal(back[0], np.concatenate([bands[0][:, 8 * m:], bands[0][:, : 2 * m]],
...                                             axis=1)))
True
"""

from __future__ import annotations

import os
import tempfile
from types import TracebackType

import numpy as np

from .analysis import band_sizes
from .blocks import GridSettings
from .plan import RenderPlan


class CoefficientStore:
    """Core wavelet coefficients of a track on the grid ``grid``, by frame (see the module).

    Parameters
    ----------
    grid : GridSettings
        Wavelet, depth, hop and packet splits the coefficients were taken with.
    n_channels, n_frames : int
        The track's channels and frames.
    exponent : int
        The power of two the track was scaled by before the transform.
    """

    def __init__(self, grid: GridSettings, *, n_channels: int, n_frames: int,
                 exponent: int) -> None:
        self.grid, self.exponent = grid, int(exponent)
        self.n_channels, self.n_frames = int(n_channels), int(n_frames)
        self.sizes = band_sizes(grid.hop, grid.level, grid.bands_per_octave)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self._frame_bytes = self.n_channels * grid.hop * 4
        self._file = tempfile.TemporaryFile()

    def pack(self, bands: list[np.ndarray], *, margin: int, count: int) -> np.ndarray:
        """The ``count`` core frames of a block's ``bands`` (`blocks.block_bands` of the
        block read with ``margin`` frames on each side), laid out as the file holds them."""
        frames = np.empty((count, self.n_channels, self.grid.hop), dtype=np.float32)
        for band, m, offset in zip(bands, self.sizes, self.offsets, strict=False):
            core = band[:, margin * m: (margin + count) * m]
            frames[:, :, offset: offset + m] = core.reshape(self.n_channels, count, m
                                                            ).transpose(1, 0, 2)
        return frames

    def write(self, first: int, frames: np.ndarray) -> None:
        """Keep ``frames`` (made by `pack`), the frames from frame ``first`` on."""
        os.pwrite(self._file.fileno(), np.ascontiguousarray(frames, dtype=np.float32).data,
                  first * self._frame_bytes)

    def bands(self, frames: np.ndarray) -> list[np.ndarray]:
        """The bands over ``frames`` (frame numbers, ascending but for wrapping around the
        track's end, as `blocks.frame_indices` gives them), laid out as `blocks.block_bands`
        lays out a block's."""
        breaks = np.flatnonzero(np.diff(frames) != 1) + 1
        runs = []
        for part in np.split(np.asarray(frames), breaks):
            size = part.size * self._frame_bytes
            data = os.pread(self._file.fileno(), size, int(part[0]) * self._frame_bytes)
            if len(data) != size:
                raise OSError(f"the coefficient scratch file ended early ({len(data)} of "
                              f"{size} bytes): check the free space of the temporary folder")
            runs.append(np.frombuffer(data, dtype=np.float32).reshape(
                part.size, self.n_channels, self.grid.hop))
        block = runs[0] if len(runs) == 1 else np.concatenate(runs)
        return [np.ascontiguousarray(block[:, :, offset: offset + m].transpose(1, 0, 2)
                                     ).reshape(self.n_channels, -1)
                for m, offset in zip(self.sizes, self.offsets, strict=False)]

    def serves(self, plan: RenderPlan, exponent: int) -> bool:
        """Whether a timbre rendering of ``plan`` from the track scaled by ``2**exponent``
        can take its unshifted coefficients from here."""
        return (plan.mode != "mosaic" and exponent == self.exponent
                and (plan.n_channels, plan.n_frames) == (self.n_channels, self.n_frames)
                and GridSettings(plan.wavelet, plan.level, plan.hop, plan.bands_per_octave)
                == self.grid)

    def close(self) -> None:
        """Delete the scratch file."""
        self._file.close()

    def __enter__(self) -> CoefficientStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()
