"""Peer system: spectrogram style transfer with a random shallow CNN (Ulyanov & Lebedev, 2016).

Content and style are mixed to mono and resampled to 22.05 kHz. Their log-magnitude STFTs,
log(1 + |X|) with n_fft 2048 and hop 512, are 1-D signals whose 1025 frequency bins are the
channels. One convolution layer of random filters (width 11 along time, fixed, Gaussian
weights of standard deviation sqrt(2 / (1025 * 11)), no bias) followed by ReLU gives the
features. The loss is the style loss, the squared difference of the output's and the
style's Gram matrices (features times features transposed, over the number of frames), plus
``alpha`` times the content loss, the squared difference of the output's and the content's
features; each loss is divided by its reference's squared norm so that ``alpha`` does not
depend on the level or the length. The output log-spectrogram starts as the content's and
is optimised with L-BFGS; its magnitude exp(S) - 1 gets a phase from Griffin-Lim
(librosa, 100 iterations) and is resampled to the content's rate.

Budget, reduced from the paper's 4096 filters and its long optimisation to fit two CPU
cores (``--filters``, ``--iterations`` change it): 512 filters, 100 L-BFGS iterations (at
most 125 loss evaluations), two torch threads.

Runs in the peers environment: ``python benchmarks/peers/random_cnn.py CONTENT STYLE OUT``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import librosa
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baselines import finish, peer_parser, read_audio, write_audio

SR = 22050
N_FFT, HOP = 2048, 512
WIDTH = 11
FILTERS = 512
ITERATIONS = 100
ALPHA = 0.05
GRIFFIN_LIM_ITERATIONS = 100
THREADS = 2


def log_spectrogram(y: np.ndarray) -> np.ndarray:
    """log(1 + |STFT|), ``(bins, frames)``."""
    return np.log1p(np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP))).astype(np.float32)


def transfer(content: np.ndarray, style: np.ndarray, *, filters: int, iterations: int,
             alpha: float, seed: int) -> np.ndarray:
    """The optimised log-magnitude spectrogram (shape of the content's)."""
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(seed)
    bins = content.shape[0]
    weights = torch.randn(filters, bins, WIDTH) * float(np.sqrt(2.0 / (bins * WIDTH)))

    def features(spec: torch.Tensor) -> torch.Tensor:
        """ReLU of the random convolution, ``(filters, frames)``."""
        return torch.relu(torch.nn.functional.conv1d(spec[None], weights))[0]

    def gram(feat: torch.Tensor) -> torch.Tensor:
        """Filter co-activations averaged over frames."""
        return feat @ feat.T / feat.shape[1]

    with torch.no_grad():
        content_feat = features(torch.from_numpy(content))
        style_gram = gram(features(torch.from_numpy(style)))
    content_norm = float((content_feat ** 2).sum()) + 1e-12
    style_norm = float((style_gram ** 2).sum()) + 1e-12

    spec = torch.from_numpy(content.copy()).requires_grad_(True)
    optimiser = torch.optim.LBFGS([spec], lr=1.0, max_iter=iterations,
                                  max_eval=iterations * 5 // 4, history_size=20,
                                  line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        """Total loss and its gradient."""
        optimiser.zero_grad()
        feat = features(spec)
        style_loss = ((gram(feat) - style_gram) ** 2).sum() / style_norm
        content_loss = ((feat - content_feat) ** 2).sum() / content_norm
        loss = style_loss + alpha * content_loss
        loss.backward()
        return loss

    optimiser.step(closure)
    return np.asarray(spec.detach().numpy(), dtype=np.float32)


def main(argv: list[str] | None = None) -> int:
    """Render CONTENT in the style of STYLE into OUT."""
    parser = peer_parser(__doc__.splitlines()[0])
    parser.add_argument("--filters", type=int, default=FILTERS)
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument("--alpha", type=float, default=ALPHA)
    args = parser.parse_args(argv)

    content, sr = read_audio(args.content)
    content_mono = read_audio(args.content, SR)[0].mean(axis=0)
    style_mono = read_audio(args.style, SR)[0].mean(axis=0)
    spec = transfer(log_spectrogram(content_mono), log_spectrogram(style_mono),
                    filters=args.filters, iterations=args.iterations, alpha=args.alpha,
                    seed=args.seed)
    magnitude = np.maximum(np.expm1(spec), 0.0)
    rng = np.random.default_rng(args.seed)
    y = librosa.griffinlim(magnitude, n_iter=GRIFFIN_LIM_ITERATIONS, hop_length=HOP,
                           n_fft=N_FFT, length=content_mono.size, random_state=rng)
    y = librosa.resample(y, orig_sr=SR, target_sr=sr, res_type="soxr_hq")
    write_audio(args.out, finish(y, content.shape[0], content.shape[1]), sr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
