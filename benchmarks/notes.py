"""Note F1 for the quality benchmark: how many of the content's notes an output still plays.

Every file is transcribed by Basic Pitch (Spotify's polyphonic transcriber, ICASSP 2022; its
ONNX model ships inside the wheel, run with onnxruntime) into notes: onset, offset, MIDI
pitch. An output's notes are compared with its content's own notes by mir_eval's
transcription measures: a note matches when its onset is within 50 ms of a content note's
and its pitch within 50 cents (offsets ignored), each note matched at most once (maximum
bipartite matching); F1 = 2PR / (P + R) of precision P and recall R. The truth rendering of
a paired task (the same notes on another instrument) is scored the same way: the reference
an output can hope to reach, not 1.

Basic Pitch and its needs live in their own environment, ``benchmarks/.notes-venv``, made on
first use (``pip install --no-deps basic-pitch==0.4.0``, then onnxruntime, librosa,
mir_eval, pretty_midi, resampy and scipy: Basic Pitch's TensorFlow requirement is left out,
the ONNX model needs none of it). Transcriptions are kept in ``OUT/notes-cache`` by the
SHA-1 of each file's bytes.

This file runs on both sides: `note_scores` in the benchmark's environment, which calls
``python notes.py FILES.json RESULT.json`` in the notes environment.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import venv
from collections.abc import Iterable
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTES_VENV = HERE / ".notes-venv"
#: Installed without their dependencies first (Basic Pitch would pull in TensorFlow).
NO_DEPS = ("basic-pitch==0.4.0",)
REQUIREMENTS = ("onnxruntime", "librosa", "mir_eval", "pretty_midi", "resampy<0.4.3", "scipy",
                "scikit-learn", "typing-extensions", "soundfile")
#: Matching tolerances of a note: onset (seconds) and pitch (cents); offsets are ignored.
ONSET_TOLERANCE, PITCH_TOLERANCE = 0.05, 50.0


def python() -> Path:
    return NOTES_VENV / "bin" / "python"


def ensure_env(log: Path) -> str:
    """Create the notes environment if needed; '' when ready, else why it is not."""
    stamp = NOTES_VENV / ".requirements"
    wanted = "\n".join((*NO_DEPS, *REQUIREMENTS))
    if python().exists() and stamp.exists() and stamp.read_text() == wanted:
        return ""
    print(f"setting up the note transcriber's environment in {NOTES_VENV} (first run: a "
          "minute or two)...", flush=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if not python().exists():
            venv.EnvBuilder(with_pip=True).create(NOTES_VENV)
        with log.open("w") as handle:
            for extra, packages in ((["--no-deps"], NO_DEPS), ([], REQUIREMENTS)):
                done = subprocess.run([str(python()), "-m", "pip", "install", *extra,
                                       *packages], stdout=handle, stderr=subprocess.STDOUT,
                                      check=False)
                if done.returncode != 0:
                    return f"pip install {' '.join(packages)} failed; see {log}"
    except (OSError, subprocess.SubprocessError) as exc:
        return f"could not create {NOTES_VENV}: {exc}"
    stamp.write_text(wanted)
    return ""


def file_sha(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def note_scores(pairs: Iterable[tuple[Path, Path]], cache: Path,
                log: Path) -> dict[tuple[str, str], tuple[float, float, float]]:
    """Precision, recall and F1 of each ``(reference, estimate)`` pair of audio files.

    Raises ``RuntimeError`` when the notes environment cannot be made or the transcriber
    fails.
    """
    pairs = list(pairs)
    error = ensure_env(log)
    if error:
        raise RuntimeError(error)
    cache.mkdir(parents=True, exist_ok=True)
    files = sorted({str(p) for pair in pairs for p in pair})
    with tempfile.TemporaryDirectory(prefix="st-notes-") as work:
        request, result = Path(work) / "request.json", Path(work) / "result.json"
        request.write_text(json.dumps({
            "files": {f: str(cache / f"{file_sha(Path(f))}.json") for f in files},
            "pairs": [[str(a), str(b)] for a, b in pairs]}))
        with log.open("a") as handle:
            done = subprocess.run([str(python()), __file__, str(request), str(result)],
                                  stdout=handle, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the note transcriber failed (exit {done.returncode}); see "
                               f"{log}")
        scores = json.loads(result.read_text())
    return {(a, b): tuple(s) for (a, b), s in zip(scores["pairs"], scores["scores"],
                                                   strict=True)}


def _transcribe(path: str, cached: Path, model: object) -> list[list[float]]:
    """``[[onset, offset, midi pitch], ...]`` of one file, from the cache when there."""
    if cached.exists():
        return list(json.loads(cached.read_text()))
    from basic_pitch.inference import predict

    _, _, events = predict(path, model)
    notes = sorted([float(e[0]), float(e[1]), float(e[2])] for e in events)
    cached.write_text(json.dumps(notes))
    return notes


def _score(reference: list[list[float]], estimate: list[list[float]]) -> list[float]:
    import mir_eval
    import numpy as np

    def arrays(notes: list[list[float]]) -> tuple[np.ndarray, np.ndarray]:
        if not notes:
            return np.zeros((0, 2)), np.zeros(0)
        table = np.asarray(notes, dtype=float)
        return table[:, :2], 440.0 * 2.0 ** ((table[:, 2] - 69) / 12)

    if not reference and not estimate:
        return [1.0, 1.0, 1.0]
    if not reference or not estimate:
        return [0.0, 0.0, 0.0]
    precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
        *arrays(reference), *arrays(estimate), onset_tolerance=ONSET_TOLERANCE,
        pitch_tolerance=PITCH_TOLERANCE, offset_ratio=None)
    return [float(precision), float(recall), float(f1)]


def _main(request: Path, result: Path) -> int:
    """In the notes environment: transcribe the requested files and score the pairs."""
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # Basic Pitch warns of missing backends
    from basic_pitch import ICASSP_2022_MODEL_PATH
    from basic_pitch.inference import Model

    spec = json.loads(request.read_text())
    model = Model(ICASSP_2022_MODEL_PATH)
    notes = {f: _transcribe(f, Path(c), model) for f, c in spec["files"].items()}
    scores = [_score(notes[a], notes[b]) for a, b in spec["pairs"]]
    result.write_text(json.dumps({"pairs": spec["pairs"], "scores": scores}))
    return 0


if __name__ == "__main__":
    sys.exit(_main(Path(sys.argv[1]), Path(sys.argv[2])))
