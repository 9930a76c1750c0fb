"""Peer for the synthesis benchmark: Audio Oracle generation with the ``vmo`` package.

Runs in its own environment (``benchmarks/.vmo-venv``, made by ``benchmarks/synth.py``)::

    .vmo-venv/bin/python peers/vmo_synth.py STYLE.wav OUT.wav SECONDS SEED

The recipe of vmo's own documentation: MFCCs (20, of frames of 8192 samples every 4096 at
44.1 kHz), an Audio Oracle built with the threshold that maximises its information rate
(``find_threshold``), a walk over it (``generate.improvise``: a jump along the oracle's
links after every frame, to a frame of the same cluster), and vmo's own overlap-add of the
chosen frames (``generate.audio_synthesis``, Hann windows). The output is cut to SECONDS.
"""

from __future__ import annotations

import random
import sys

import librosa
import numpy as np
import soundfile as sf
import vmo
import vmo.generate

FRAME, HOP = 8192, 4096


def main() -> int:
    style, out, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (vmo draws from numpy's global generator)
    y, sr = librosa.load(style, sr=44100)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20, n_fft=FRAME, hop_length=HOP).T
    best, _ = vmo.find_threshold(mfcc, r=(0.0, 1.01, 0.01), flag="a", dim=mfcc.shape[1])
    oracle = vmo.build_oracle(mfcc, flag="a", threshold=best[1], dim=mfcc.shape[1])
    n_frames = int(np.ceil(seconds * sr / HOP)) + 2
    sequence = vmo.generate.improvise(oracle, n_frames, k=1, LRS=0, continuity=1)
    sequence = [max(1, min(int(s), oracle.n_states - 1)) for s in sequence][:n_frames]
    audio, _, _ = vmo.generate.audio_synthesis(style, out, sequence, analysis_sr=sr,
                                              buffer_size=FRAME, hop=HOP)
    audio = np.asarray(audio, dtype=np.float32)[: round(seconds * sr)]
    sf.write(out, audio, sr, subtype="FLOAT")
    print(f"threshold {best[1]:.2f}, {oracle.n_states - 1} states, {len(sequence)} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
