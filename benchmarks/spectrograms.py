"""Spectrograms of quality-benchmark outputs beside their content, style and truth.

For each task named, one PNG: a row per track (content, style, the truth where there is
one, then each system's output from a `quality.py` run), log-frequency power spectrograms
(dB, 80 dB range below each track's peak, magma) on a shared time axis, 0-8 kHz shown on a
log scale. Nothing is measured; the figures are for looking at.

Usage::

    .venv/bin/python benchmarks/spectrograms.py --systems st-instrument,st-melodic \\
        --tasks paired/piano-to-violin,real/guitar-to-blues [--out benchmarks/out/figures]
        [--quality benchmarks/out/quality] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SR = 22050


def spectrogram(path: Path, seconds: float) -> np.ndarray:
    """dB power spectrogram of the first ``seconds`` of ``path`` (mono mix at 22.05 kHz)."""
    import librosa

    y, sr = sf.read(str(path), always_2d=True, dtype="float32")
    mono = librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=SR)[: int(seconds * SR)]
    power = np.abs(librosa.stft(mono, n_fft=2048, hop_length=256)) ** 2
    db = 10 * np.log10(power + 1e-12)
    return np.asarray(np.maximum(db, db.max() - 80.0))


def figure(rows: list[tuple[str, Path]], title: str, out: Path, seconds: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    freqs = np.fft.rfftfreq(2048, 1 / SR)
    fig, axes = plt.subplots(len(rows), 1, figsize=(10, 1.7 * len(rows)), sharex=True,
                             constrained_layout=True)
    for ax, (label, path) in zip(np.atleast_1d(axes), rows, strict=True):
        db = spectrogram(path, seconds)
        times = np.arange(db.shape[1]) * 256 / SR
        ax.pcolormesh(times, freqs[1:], db[1:], cmap="magma", shading="auto",
                      rasterized=True)
        ax.set_yscale("log")
        ax.set_ylim(50, 8000)
        ax.set_ylabel("Hz")
        ax.set_title(label, loc="left", fontsize=9)
    np.atleast_1d(axes)[-1].set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, metadata={"Software": None})
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "corpus")
    parser.add_argument("--quality", type=Path, default=HERE / "out" / "quality",
                        help="a quality.py output folder")
    parser.add_argument("--systems", required=True, help="comma-separated systems")
    parser.add_argument("--tasks", required=True, help="comma-separated task names")
    parser.add_argument("--out", type=Path, default=HERE / "out" / "figures")
    parser.add_argument("--seconds", type=float, default=8.0, help="length shown")
    args = parser.parse_args(argv)
    tasks = {t["name"]: t for t in json.loads((args.corpus / "tasks.json").read_text())["tasks"]}
    for name in args.tasks.split(","):
        task = tasks.get(name)
        if task is None:
            print(f"no task {name!r} in {args.corpus}", file=sys.stderr)
            return 2
        rows = [(f"content ({task['content']})", args.corpus / task["content"]),
                (f"style ({task['style']})", args.corpus / task["style"])]
        if task.get("truth"):
            rows.append((f"truth ({task['truth']})", args.corpus / task["truth"]))
        safe = name.replace("/", "_")
        for system in args.systems.split(","):
            rows.append((f"output: {system}", args.quality / system / f"{safe}.wav"))
        out = args.out / f"{safe}.png"
        figure(rows, name, out, args.seconds)
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
