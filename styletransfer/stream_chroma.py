"""`analysis.frame_chroma` of a track read block by block, in bounded memory.

The mono mix is decimated by a streaming resampler (soxr keeps its state between blocks,
so the result is the one-shot resampling's, sample for sample), and each frame's FFT is
taken as soon as its window is complete. The chroma's log compression is relative to the
loudest bin of the whole track, so the track is read twice: once for that level
(`ChromaStream.peak`), once for the chroma (`ChromaStream.chroma`).

Examples
--------
>>> from styletransfer.analysis import frame_chroma
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

from .analysis import CHROMA_RANGE_HZ


class ChromaStream:
    """The frame grid of `analysis.frame_chroma` for a track of ``n_frames`` frames."""

    def __init__(self, sr: int, hop: int, n_frames: int) -> None:
        self.sr, self.hop, self.n_frames = int(sr), int(hop), int(n_frames)
        step = 1
        while step < hop and sr / (4 * step) > 1.1 * CHROMA_RANGE_HZ[1]:
            step *= 2
        self.step = step
        self.rate, self.frame_hop = sr / step, hop // step
        self.n_fft = int(2 ** np.ceil(np.log2(max(4 * self.frame_hop,
                                                  self.rate * 4096 / 44100))))
        freqs = np.fft.rfftfreq(self.n_fft, 1.0 / self.rate)
        self.keep = (freqs >= CHROMA_RANGE_HZ[0]) & (freqs <= min(CHROMA_RANGE_HZ[1],
                                                                   self.rate / 2))
        pitch = 12 * np.log2(freqs[self.keep] / 440.0) + 9.0
        low = np.floor(pitch)
        upper_share = pitch - low
        n_bins = int(self.keep.sum())
        self.profile = np.zeros((n_bins, 12))
        self.profile[np.arange(n_bins), low.astype(np.int64) % 12] = 1.0 - upper_share
        self.profile[np.arange(n_bins), (low.astype(np.int64) + 1) % 12] += upper_share
        self.window = np.hanning(self.n_fft).astype(np.float32)

    def peak(self, blocks: Iterator[np.ndarray]) -> float:
        """The largest magnitude of the track's kept bins (the chroma's reference level)."""
        top = 0.0
        for magnitude in self._magnitudes(blocks):
            if magnitude.size:
                top = max(top, float(magnitude.max()))
        return top

    def chroma(self, blocks: Iterator[np.ndarray], peak: float) -> np.ndarray:
        """``(n_frames, 12)`` unit pitch-class profiles (as `analysis.frame_chroma`)."""
        parts = []
        for magnitude in self._magnitudes(blocks):
            parts.append(np.log1p(100.0 * magnitude / max(peak, 1e-30)) @ self.profile)
        chroma = np.concatenate(parts) if parts else np.zeros((0, 12))
        norm = np.linalg.norm(chroma, axis=1, keepdims=True)
        return np.asarray(np.divide(chroma, norm, out=np.zeros_like(chroma), where=norm > 1e-12))

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
