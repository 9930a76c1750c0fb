"""Peer system: GAMuT granular audio musaicing of the content from grains of the style.

The style becomes a GAMuT ``Corpus`` (13 MFCCs per 1024-sample frame, hop 512, in a k-d
tree); the content is the ``Mosaic`` target, each of its frames matched to the nearest style
grains; ``Mosaic.to_audio`` concatenates 0.1 s cosine-windowed grains with the package's
documented defaults (fidelity 1, no stretch, no onset variation, pan depth 5) and as many
channels as the content has. The result is cut or padded to the content's length and
peak-limited to -1 dBFS.

Runs in the peers environment: ``python benchmarks/peers/gamut_mosaic.py CONTENT STYLE OUT``.
"""

from __future__ import annotations

import random
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from baselines import finish, peer_parser, read_audio, write_audio

#: Grain length (s) and the other ``to_audio`` settings: the package's defaults.
GRAIN_SECONDS = 0.1
FIDELITY = 1.0
PAN_DEPTH = 5.0


class _PortAudioError(Exception):
    """Stand-in for ``sounddevice.PortAudioError``."""


def _stub_sounddevice() -> None:
    """GAMuT imports ``sounddevice`` for playback only; offline rendering needs no sound card."""
    if "sounddevice" in sys.modules:
        return
    try:
        import sounddevice  # noqa: F401
    except (ImportError, OSError):
        stub = types.ModuleType("sounddevice")
        stub.PortAudioError = _PortAudioError  # type: ignore[attr-defined]
        sys.modules["sounddevice"] = stub


def mosaic(content_path: Path, style_path: Path, n_channels: int) -> tuple[np.ndarray, int]:
    """GAMuT's mosaic of the content from the style, ``(samples, channels)``, and its rate."""
    _stub_sounddevice()
    from gamut.features import Corpus, Mosaic
    from gamut.sys import set_vebosity

    set_vebosity(False)
    corpus = Corpus(source=str(style_path))
    target = Mosaic(target=str(content_path), corpus=corpus)
    buffer = target.to_audio(fidelity=FIDELITY, grain_dur=GRAIN_SECONDS,
                             pan_depth=PAN_DEPTH, n_chans=n_channels)
    return np.asarray(buffer.y), int(buffer.sr)


def main(argv: list[str] | None = None) -> int:
    """Render the mosaic of CONTENT from STYLE into OUT."""
    parser = peer_parser(__doc__.splitlines()[0])
    args = parser.parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)  # noqa: NPY002 - GAMuT draws from the global generator

    content, sr = read_audio(args.content)
    y, rate = mosaic(args.content, args.style, content.shape[0])
    y = np.asarray(y, dtype=np.float32).T
    if rate != sr:
        import librosa

        y = librosa.resample(y, orig_sr=rate, target_sr=sr, res_type="soxr_hq", axis=-1)
    write_audio(args.out, finish(y, content.shape[0], content.shape[1]), sr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
