"""`profiles.frame_chroma` (or `profiles.frame_pitches`) of a track read block by block, in
bounded memory.

The mono mix is decimated by a streaming resampler (soxr keeps its state between blocks,
so the result is the one-shot resampling's, sample for sample), and each frame's FFT is
taken as soon as its window is complete. The chroma's log compression is relative to the
loudest bin of the whole track, so the track is read twice: once for that level
(`ChromaStream.peak`), once for the chroma (`ChromaStream.chroma`).

Examples
--------
>>> from styletransfer.profiles import frame_chroma
>>> y = np.random.default_rng(0).standard_normal((2, 30000)).astype(np.float32)
>>> stream = ChromaStream(22050, 512, 59)
>>> blocks = [y[:, i: i + 7000] for i in range(0, 30000, 7000)]
>>> level = stream.peak(iter(blocks))
>>> c = stream.chroma(iter(blocks), level)
>>> bool(np.allclose(c, frame_chroma(y, 22050, 512)))
True
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .profiles import profile_grid, profile_matrix, unit_rows


class ChromaStream:
    """The frame grid of `profiles.frame_chroma` for a track of ``n_frames`` frames; with
    ``octaves``, of `profiles.frame_pitches`."""

    def __init__(self, sr: int, hop: int, n_frames: int, *, octaves: bool = False) -> None:
        self.sr, self.hop, self.n_frames = int(sr), int(hop), int(n_frames)
        self.step, self.rate, self.frame_hop, self.n_fft = profile_grid(sr, hop)
        self.keep, self.profile = profile_matrix(self.rate, self.n_fft, octaves=octaves)
        self.window = np.hanning(self.n_fft).astype(np.float32)

    def peak(self, blocks: Iterator[np.ndarray]) -> float:
        """The largest magnitude of the track's kept bins (the chroma's reference level)."""
        top = 0.0
        for magnitude in self._magnitudes(blocks):
            if magnitude.size:
                top = max(top, float(magnitude.max()))
        return top

    def chroma(self, blocks: Iterator[np.ndarray], peak: float) -> np.ndarray:
        """``(n_frames, 12)`` unit pitch-class profiles (as `profiles.frame_chroma`), or with
        ``octaves`` the semitone profiles of `profiles.frame_pitches`."""
        parts = []
        for magnitude in self._magnitudes(blocks):
            parts.append(np.log1p(100.0 * magnitude / max(peak, 1e-30)) @ self.profile)
        return unit_rows(np.concatenate(parts) if parts else np.zeros((0, self.profile.shape[1])))

    def _magnitudes(self, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        """Kept-bin magnitudes of the frames, in order, as the blocks of audio arrive."""
        import scipy.fft

        resampler = None
        if self.step > 1:
            import soxr

            resampler = soxr.ResampleStream(self.sr, self.rate, 1, dtype="float32",
                                            quality="MQ")
        pad, fh = self.n_fft // 2, self.frame_hop
        buffer = np.zeros(0, dtype=np.float32)
        origin = 0  # position of buffer[0] in the decimated mono track
        produced = 0
        done = 0  # frames handed out
        pending = next(blocks, None)
        while pending is not None:
            following = next(blocks, None)
            mono = np.asarray(pending, dtype=np.float32).mean(axis=0)
            if resampler is not None:
                mono = np.asarray(resampler.resample_chunk(mono, last=following is None),
                                  dtype=np.float32)
            buffer = np.concatenate([buffer, mono])
            produced += mono.size
            last = following is None
            # frame f reads decimated samples f * fh + fh // 2 - pad ... + n_fft
            ready = self.n_frames if last else min(
                self.n_frames, max(0, (produced - self.n_fft + pad - fh // 2) // fh + 1))
            if ready > done:
                starts = np.arange(done, ready) * fh + fh // 2 - pad
                lo, hi = int(starts[0]), int(starts[-1]) + self.n_fft
                span = np.zeros(hi - lo, dtype=np.float32)
                a, b = max(lo, origin), min(hi, origin + buffer.size)
                if b > a:
                    span[a - lo: b - lo] = buffer[a - origin: b - origin]
                frames = np.lib.stride_tricks.sliding_window_view(span, self.n_fft)[
                    starts - lo]
                spectrum = np.abs(scipy.fft.rfft(frames * self.window, axis=1))
                yield spectrum[:, self.keep]
                done = ready
                keep_from = done * fh + fh // 2 - pad
                if keep_from > origin:
                    cut = min(keep_from - origin, buffer.size)
                    buffer, origin = buffer[cut:], origin + cut
            pending = following
