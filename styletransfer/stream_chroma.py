"""`profiles.frame_chroma` (or `profiles.frame_pitches`) of a track read block by block, in
bounded memory.

The mono mix is decimated by a streaming resampler (soxr keeps its state between blocks,
so the result is the one-shot resampling's, sample for sample), and each frame's FFT is
taken as soon as its window is complete. The chroma's log compression is relative to the
loudest bin of the whole track, which is known only at its end: the frames' magnitudes wait
in an anonymous temporary file (on disk, not in memory) until then, so the track is read
once.

Examples
--------
>>> from styletransfer.profiles import frame_chroma
>>> y = np.random.default_rng(0).standard_normal((2, 30000)).astype(np.float32)
>>> stream = ChromaStream(22050, 512, 59)
>>> c = stream.profiles(y[:, i: i + 7000] for i in range(0, 30000, 7000))
>>> bool(np.allclose(c, frame_chroma(y, 22050, 512)))
True
"""

from __future__ import annotations

import tempfile
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

    def profiles(self, blocks: Iterator[np.ndarray]) -> np.ndarray:
        """``(n_frames, 12)`` unit pitch-class profiles (as `profiles.frame_chroma`), or with
        ``octaves`` the semitone profiles of `profiles.frame_pitches`, of the track whose
        audio ``blocks`` bring in order."""
        width = self.profile.shape[0]
        top, counts = 0.0, []
        with tempfile.TemporaryFile() as spill:
            for magnitude in self._magnitudes(blocks):
                if magnitude.size:
                    top = max(top, float(magnitude.max()))
                spill.write(np.ascontiguousarray(magnitude, dtype=np.float32).tobytes())
                counts.append(magnitude.shape[0])
            spill.seek(0)
            parts = [np.zeros((0, self.profile.shape[1]))]
            for count in counts:
                magnitude = np.frombuffer(spill.read(count * width * 4), dtype=np.float32)
                parts.append(np.log1p(100.0 * magnitude.reshape(count, width) / max(top, 1e-30))
                             @ self.profile)
        return unit_rows(np.concatenate(parts))

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
