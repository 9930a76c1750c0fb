"""Peer system: "Let it Bee" NMF audio mosaicing (Driedger et al., 2015) with libnmfd.

Both signals are mixed to mono and transformed with libnmfd's STFT (block 2048, hop 1024,
Hann window). Every magnitude frame of the style, normalised to unit sum, is a fixed template
(the columns of W); the content's magnitude spectrogram is the target V. ``nmf_diag`` learns
the activations H (Kullback-Leibler updates from random non-negative values) with the
method's constraints every ``cont_grid`` iterations: at most ``cont_polyphony`` templates at
a time, sparse activations in time, and continuity along diagonals of length
``cont_length`` (style frames played in order). The mosaic is the style's *complex*
spectrogram (same normalisation) times H, so each template keeps its own phase, refined by
Griffin-Lim. The settings are those of libnmfd's mosaicing demo (30 iterations, polyphony
10, continuity 7, grid 5, sparsity (1, 7), 50 Griffin-Lim iterations); nothing is reduced.

Runs in the peers environment: ``python benchmarks/peers/letitbee.py CONTENT STYLE OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baselines import finish, peer_parser, read_audio, write_audio

BLOCK, HOP = 2048, 1024
ITERATIONS = 30
POLYPHONY, CONTINUITY, GRID = 10, 7, 5
SPARSITY = (1, 7)
GRIFFIN_LIM_ITERATIONS = 50


def let_it_bee(content: np.ndarray, style: np.ndarray, seed: int) -> np.ndarray:
    """Mono mosaic of the mono ``content`` built from frames of the mono ``style``."""
    from libnmfd.core import nmf_diag
    from libnmfd.dsp.algorithms import griffin_lim
    from libnmfd.dsp.transforms import forward_stft
    from libnmfd.utils import EPS

    style_spec, style_mag, _ = forward_stft(style.astype(np.float64), block_size=BLOCK,
                                            hop_size=HOP, reconst_mirror=True,
                                            append_frames=True)
    _, target_mag, _ = forward_stft(content.astype(np.float64), block_size=BLOCK,
                                    hop_size=HOP, reconst_mirror=True, append_frames=True)
    scale = 1.0 / (EPS + style_mag.sum(axis=0))
    templates = style_mag * scale
    rng = np.random.default_rng(seed)
    activations = rng.random((templates.shape[1], target_mag.shape[1]))
    _, learnt = nmf_diag(V=target_mag, num_iter=ITERATIONS, init_W=templates,
                         init_H=activations, fix_W=True, cont_polyphony=POLYPHONY,
                         cont_length=CONTINUITY, cont_grid=GRID, cont_sparsen=SPARSITY)
    mosaic = (style_spec * scale) @ learnt
    _, _, signal = griffin_lim(X=mosaic, num_iter=GRIFFIN_LIM_ITERATIONS, block_size=BLOCK,
                               hop_size=HOP)
    return np.asarray(signal, dtype=np.float64).reshape(-1)


def main(argv: list[str] | None = None) -> int:
    """Render the Let-it-Bee mosaic of CONTENT from STYLE into OUT."""
    parser = peer_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)

    content, sr = read_audio(args.content)
    style, _ = read_audio(args.style, sr)
    y = let_it_bee(content.mean(axis=0), style.mean(axis=0), args.seed)
    write_audio(args.out, finish(y, content.shape[0], content.shape[1]), sr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
