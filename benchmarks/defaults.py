"""Benchmark of the default wavelet and depth at 44.1 kHz.

For each candidate wavelet (at depth 8) and, for the three best, each depth 6-10, measures:
1. artefacts of band gains: spurious energy (not explainable by the input frequencies, each
   modulated by the applied band gain curves) after static +/-12 dB per-band gains and after
   gains moving 12 dB per frame, on pure sines and a harmonic tone (dB re output, lower better);
2. transfer quality on the demo clips (timbre at strength 0.8 and mosaic): band-shape and MFCC
   distance to the style relative to the content's (lower: closer to the style), measured
   with fixed references, and onset-strength correlation with the content (higher better);
3. speed: analysis + resynthesis time per second of stereo 44.1 kHz audio;
4. frequency selectivity: energy of a sine at a band's centre that lands outside that band.
dmey, which styletransfer rejects, is measured through PyWavelets directly (no transfer).

Run: ``.venv/bin/python benchmarks/defaults.py``
"""

from __future__ import annotations

import itertools
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import librosa
import numpy as np
import pywt

from styletransfer import Settings, analyse, synthesise, transfer
from styletransfer.analysis import (
    DEFAULT_WAVELET,
    band_sizes,
    default_hop,
    default_level,
    supported_wavelets,
)
from styletransfer.demo import breathy_drone, plucked_melody
from styletransfer.engine_numpy import gain_curve

SR = 44100
WAVELETS = ("haar", "db4", "db8", "sym4", "sym8", "sym12", "coif3", "coif5", "dmey")
LEVELS = (6, 7, 8, 9, 10)
BASE_LEVEL = 8
CURRENT = (DEFAULT_WAVELET, default_level(SR))
N_TEST = 2**16  # test-signal length: a multiple of every hop, so the signals are exactly periodic
GAIN_DB = 12.0
#: dB gain per frame of the moving pattern (one step = 12 dB), bands in alternating phase.
MOVING = np.array([0.0, 1.0, 0.0, -1.0]) * GAIN_DB
SINES_HZ = (55.0, 130.0, 440.0, 1000.0, 1378.125 * 1.06, 2756.25 * 0.95, 5512.5 * 1.03,
            11025.0 * 0.97, 16000.0)
TONE_F0, TONE_TOP = 220.0, 6000.0
REFERENCE = ("db8", 8)  # fixed band-shape yardstick for every candidate
N_MFCC = 20

Component = tuple[float, float]  # (frequency Hz, amplitude)


@dataclass
class Row:
    """All measurements of one (wavelet, level) candidate."""

    wavelet: str
    level: int
    recon: float = -np.inf
    #: mean spurious energy (dB) per "static"/"moving" + "mid"/"edge"/"tone" signal class
    spurious: dict[str, float] = field(default_factory=dict)
    leak_mean: float = np.nan
    leak_worst: float = np.nan
    cpu_ms: float = np.nan  # CPU ms per second of audio (all threads)
    wall_ms: float = np.nan  # wall-clock ms per second of audio
    quality: dict[str, float] = field(default_factory=dict)

    @property
    def low_edge(self) -> float:
        return SR / 2 / 2**self.level


# ---------------------------------------------------------------- 1. artefacts of band gains


def bin_freq(f: float) -> float:
    """Nearest frequency with a whole number of cycles in N_TEST samples."""
    return round(f * N_TEST / SR) * SR / N_TEST


def test_signals() -> list[tuple[str, list[Component]]]:
    sines = [(f"sine {f:.0f}", [(bin_freq(f), 1.0)]) for f in SINES_HZ]
    f0 = bin_freq(TONE_F0)
    tone = [(h * f0, 1.0 / h) for h in range(1, int(TONE_TOP / f0) + 1)]
    return [*sines, (f"tone {f0:.0f}", tone)]


def synth(components: Sequence[Component], t: np.ndarray) -> np.ndarray:
    return np.asarray(sum(a * np.cos(2 * np.pi * f * t + 0.3 * i)
                          for i, (f, a) in enumerate(components)))


def bands_of(y: np.ndarray, wavelet: str, level: int) -> tuple[list[np.ndarray], int]:
    """Wavelet bands (lowest first) and hop, as `analyse` makes them; wavelets the package
    rejects (``dmey``) go through PyWavelets directly, the same way."""
    if wavelet in supported_wavelets():
        a = analyse(y, SR, wavelet=wavelet, level=level)
        return a.coeffs, a.hop
    per_channel = [pywt.wavedec(ch, wavelet, mode="periodization", level=level) for ch in y]
    return ([np.stack(band) for band in zip(*per_channel, strict=True)],
            default_hop(SR, level))


def unbands(coeffs: Sequence[np.ndarray], wavelet: str, n_samples: int) -> np.ndarray:
    if wavelet in supported_wavelets():
        return synthesise(list(coeffs), wavelet=wavelet, n_samples=n_samples)
    return np.stack([pywt.waverec([band[ch] for band in coeffs], wavelet, mode="periodization")
                     for ch in range(coeffs[0].shape[0])])[:, :n_samples]


def gained(x: np.ndarray, wavelet: str, level: int,
           frame_db: Callable[[int, int], np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Analyse, multiply band b by the frame gains ``frame_db(n_frames, b)`` as the engine
    does (linear interpolation between frame centres), resynthesise.

    Returns the output and the distinct per-sample gain curves (what an ideal filter bank
    with the same gains could legitimately impose on each input component)."""
    bands, hop = bands_of(x[None, :], wavelet, level)
    n_frames = N_TEST // hop
    coeffs: list[np.ndarray] = []
    distinct: list[np.ndarray] = []
    for b, (band, m) in enumerate(zip(bands, band_sizes(hop, level), strict=True)):
        g = 10 ** (frame_db(n_frames, b) / 20)
        coeffs.append(band * gain_curve(g, m))
        if not any(np.allclose(g / g.max(), d) for d in distinct):
            distinct.append(g / g.max())
    curves = [gain_curve(d, hop) for d in distinct]
    return unbands(coeffs, wavelet, N_TEST)[0], curves


def spurious_db(y: np.ndarray, components: Sequence[Component],
                curves: Sequence[np.ndarray]) -> float:
    """Energy of ``y`` outside the span of {input sinusoid x gain curve}, in dB re ``y``.

    Everything is periodic in N_TEST samples with whole-bin frequencies, so the least-squares
    projection is done exactly from DFTs: regressors ``c_i(t) exp(+-2 pi j k t / N)``, Gram
    entries ``DFT(c_i c_j)[k_a - k_b]``, right-hand side ``DFT(c_i y)[k_a]``."""
    bins = [round(f * N_TEST / SR) for f, _ in components]
    index = [(i, s * k) for k in bins for s in (1, -1) for i in range(len(curves))]
    products = {(i, j): np.fft.rfft(curves[i] * curves[j])
                for i in range(len(curves)) for j in range(i, len(curves))}
    weighted = [np.fft.rfft(c * y) for c in curves]

    def dft(spectrum: np.ndarray, k: int) -> complex:
        """Full-length DFT value at bin ``k`` from a real signal's rfft."""
        k %= N_TEST
        return complex(spectrum[k] if k <= N_TEST // 2 else np.conj(spectrum[N_TEST - k]))

    gram = np.array([[dft(products[(min(i, j), max(i, j))], ka - kb) for j, kb in index]
                     for i, ka in index])
    rhs = np.array([dft(weighted[i], k) for i, k in index])
    values, vectors = np.linalg.eigh(gram)  # pseudo-inverse: the regressors may be dependent
    keep = values > 1e-10 * values.max()
    explained = float(np.sum(np.abs(vectors[:, keep].conj().T @ rhs) ** 2 / values[keep]))
    total = float(y @ y)
    return float(10 * np.log10(max(total - explained, 0.0) / total + 1e-30))


def signal_class(components: Sequence[Component]) -> str:
    """``tone`` (many partials), ``edge`` (a sine within 1/4 octave of a band edge) or
    ``mid`` (a sine further from every edge). The edges are those of the deepest level
    measured, so each class holds the same signals at every depth."""
    if len(components) > 1:
        return "tone"
    edges = SR / 2 / 2.0 ** np.arange(1, max(LEVELS) + 1)
    return "edge" if np.min(np.abs(np.log2(components[0][0] / edges))) < 0.25 else "mid"


def artefacts(row: Row) -> None:
    t = np.arange(N_TEST) / SR
    values: dict[str, list[float]] = {}
    for _, components in test_signals():
        x = synth(components, t)
        kind = signal_class(components)
        for polarity in (0, 1):
            def static_db(n: int, b: int, p: int = polarity) -> np.ndarray:
                return np.full(n, GAIN_DB * (-1.0) ** (b + p))

            def moving_db(n: int, b: int, p: int = polarity) -> np.ndarray:
                return MOVING[(np.arange(n) + 2 * b + 2 * p) % 4]

            for name, pattern in (("static", static_db), ("moving", moving_db)):
                y, curves = gained(x, row.wavelet, row.level, pattern)
                values.setdefault(f"{name}.{kind}", []).append(
                    spurious_db(y, components, curves))
        y, _ = gained(x, row.wavelet, row.level, lambda n, b: np.zeros(n))
        row.recon = max(row.recon, float(10 * np.log10(np.sum((y - x) ** 2) / (x @ x) + 1e-30)))
    row.spurious = {key: float(np.mean(v)) for key, v in values.items()}


# ---------------------------------------------------------------- 4. frequency selectivity


def selectivity(row: Row) -> None:
    """Sine at the (geometric) centre of each band: share of its energy outside the band."""
    t = np.arange(N_TEST) / SR
    leaks = []
    for b in range(row.level + 1):  # band b: lowest (approximation) first
        high = SR / 2 / 2 ** (row.level - b)
        x = np.cos(2 * np.pi * bin_freq(high / np.sqrt(2)) * t)
        bands, _ = bands_of(x[None, :], row.wavelet, row.level)
        energy = np.array([float(np.sum(c**2)) for c in bands])
        leaks.append(10 * np.log10(1 - energy[b] / energy.sum() + 1e-30))
    row.leak_mean, row.leak_worst = float(np.mean(leaks)), max(leaks)


# ---------------------------------------------------------------- 3. speed


def speed(rows: Sequence[Row], audio: np.ndarray, rounds: int = 7) -> None:
    """Analysis + resynthesis of ``audio``: best of ``rounds``, taken round-robin over all
    candidates so that load from other processes on a shared machine hits them alike."""
    cpu = np.full((rounds, len(rows)), np.inf)
    wall = np.full((rounds, len(rows)), np.inf)
    for k in range(rounds):
        for i, row in enumerate(rows):
            start_cpu, start_wall = time.process_time(), time.perf_counter()
            bands, _ = bands_of(audio, row.wavelet, row.level)
            unbands(bands, row.wavelet, audio.shape[1])
            cpu[k, i] = time.process_time() - start_cpu
            wall[k, i] = time.perf_counter() - start_wall
    seconds = audio.shape[1] / SR
    for i, row in enumerate(rows):
        row.cpu_ms = 1000 * float(cpu[:, i].min()) / seconds
        row.wall_ms = 1000 * float(wall[:, i].min()) / seconds


# ---------------------------------------------------------------- 2. transfer quality


@dataclass(frozen=True)
class Reference:
    """Wavelet-independent descriptors of one clip."""

    shape_db8: np.ndarray
    shape_stft: np.ndarray
    mfcc: np.ndarray
    onset: np.ndarray


def log_shares(energy: np.ndarray) -> np.ndarray:
    """Time-averaged log band shares of ``(n_frames, n_bands)`` energies (as band_shape)."""
    total = energy.sum(axis=1, keepdims=True)
    floor = max(float(np.mean(total)) * 1e-8, 1e-30)
    return np.asarray(np.mean(np.log(energy + floor / energy.shape[1])
                              - np.log(total + floor), axis=0))


def describe(y: np.ndarray) -> Reference:
    mono = np.asarray(y.mean(axis=0), dtype=np.float32)
    wavelet, level = REFERENCE
    power = (np.abs(librosa.stft(y.astype(np.float32), n_fft=4096, hop_length=1024)) ** 2)
    power = power.reshape(-1, *power.shape[-2:]).sum(axis=0)
    edges = [0.0] + [SR / 2 / 2**j for j in range(level, -1, -1)]
    freqs = librosa.fft_frequencies(sr=SR, n_fft=4096)
    stft_bands = np.stack([power[(freqs >= lo) & (freqs < hi if hi < SR / 2 else True)].sum(0)
                           for lo, hi in itertools.pairwise(edges)], axis=1)
    return Reference(
        shape_db8=log_shares(analyse(y, SR, wavelet=wavelet, level=level).energy),
        shape_stft=log_shares(stft_bands),
        mfcc=librosa.feature.mfcc(y=mono, sr=SR, n_mfcc=N_MFCC)[1:].mean(axis=1),
        onset=librosa.onset.onset_strength(y=mono, sr=SR))


def rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def quality(row: Row, content: np.ndarray, style: np.ndarray, ref_content: Reference,
            ref_style: Reference) -> None:
    if row.wavelet not in supported_wavelets():  # styletransfer rejects it: no transfer
        row.quality = dict.fromkeys(QUALITY_KEYS, np.nan)
        return
    for mode in ("timbre", "mosaic"):
        settings = Settings(mode=mode, wavelet=row.wavelet, levels=row.level, strength=0.8,
                            seed=0)
        out, _ = transfer(content, SR, [(style, SR)], settings=settings)
        ref = describe(out)
        if mode == "timbre":  # only the bands the content occupies (share above -40 dB)
            used = ref_content.shape_stft > np.log(1e-4)
            row.quality["timbre.occ"] = (
                rms(ref.shape_stft[used], ref_style.shape_stft[used])
                / rms(ref_content.shape_stft[used], ref_style.shape_stft[used]))
        row.quality[f"{mode}.band"] = (rms(ref.shape_db8, ref_style.shape_db8)
                                       / rms(ref_content.shape_db8, ref_style.shape_db8))
        row.quality[f"{mode}.stft"] = (rms(ref.shape_stft, ref_style.shape_stft)
                                       / rms(ref_content.shape_stft, ref_style.shape_stft))
        row.quality[f"{mode}.mfcc"] = (float(np.linalg.norm(ref.mfcc - ref_style.mfcc))
                                       / float(np.linalg.norm(ref_content.mfcc - ref_style.mfcc)))
        n = min(ref.onset.size, ref_content.onset.size)
        r = np.corrcoef(ref.onset[:n], ref_content.onset[:n])
        row.quality[f"{mode}.onset"] = float(r[0, 1])


# ---------------------------------------------------------------- scoring and printing

TIMBRE_KEYS = ("band", "stft", "occ", "mfcc", "onset")
MOSAIC_KEYS = ("band", "stft", "mfcc", "onset")
QUALITY_KEYS = [f"timbre.{k}" for k in TIMBRE_KEYS] + [f"mosaic.{k}" for k in MOSAIC_KEYS]
SPURIOUS_KEYS = [f"{p}.{c}" for p in ("static", "moving") for c in ("mid", "edge", "tone")]
#: Groups weighted equally in the overall score; each is the mean rank of its metrics.
GROUPS = {
    "artefacts": SPURIOUS_KEYS,
    "selectivity": ["leak_mean", "leak_worst"],
    "transfer": QUALITY_KEYS,
}
Scores = dict[tuple[str, int], dict[str, float]]


def metric(row: Row, key: str) -> float:
    """A metric where lower is better (NaN: not measured, ranked last)."""
    if key in row.quality:
        value = -row.quality[key] if key.endswith(".onset") else row.quality[key]
    elif key in row.spurious:
        value = row.spurious[key]
    else:
        value = float(getattr(row, key))
    return float(np.inf if np.isnan(value) else value)


def scores(rows: Sequence[Row]) -> Scores:
    """Mean rank (1 = best) per group and overall, among ``rows``."""
    result: Scores = {(r.wavelet, r.level): {} for r in rows}
    for group, keys in GROUPS.items():
        ranks = np.mean([rank([metric(r, k) for r in rows]) for k in keys], axis=0)
        for r, value in zip(rows, ranks, strict=True):
            result[(r.wavelet, r.level)][group] = float(value)
    for value in result.values():
        value["overall"] = float(np.mean([value[g] for g in GROUPS]))
    return result


def rank(values: Sequence[float]) -> np.ndarray:
    """Ranks from 1, ties (within 0.05) sharing their mean rank."""
    v = np.asarray(values)
    return np.array([np.sum(v < x - 0.05) + (np.sum(np.abs(v - x) <= 0.05) + 1) / 2
                     if np.isfinite(x) else len(v) for x in v])


def print_tables(rows: Sequence[Row], score: Scores) -> None:
    print("\nA. Gain artefacts: spurious energy in dB re output (mid: sines >= 1/4 octave from "
          "every band edge,\n   edge: sines near an edge, tone: 220 Hz harmonic tone); recon: "
          "reconstruction error at unit\n   gains; leak: energy of a band-centre sine outside "
          "its band (dB); cpu, wall: ms of analysis +\n   resynthesis per second of stereo "
          "audio; ranks (1 = best) per group and overall")
    print(f"{'wavelet':8}{'L':>3}{'low Hz':>7} |{'recon':>6} | {'static mid':>10}{'edge':>6}"
          f"{'tone':>6} | {'moving mid':>10}{'edge':>6}{'tone':>6} | {'leak mean':>9}"
          f"{'worst':>6} |{'cpu':>5}{'wall':>5} | {'art':>4}{'sel':>5}{'xfer':>5}{'all':>5}")
    for r in rows:
        s = score[(r.wavelet, r.level)]
        sp = r.spurious
        print(f"{r.wavelet:8}{r.level:3d}{r.low_edge:7.1f} |{max(r.recon, -999):6.0f} | "
              f"{sp['static.mid']:10.1f}{sp['static.edge']:6.1f}{sp['static.tone']:6.1f} | "
              f"{sp['moving.mid']:10.1f}{sp['moving.edge']:6.1f}{sp['moving.tone']:6.1f} | "
              f"{r.leak_mean:9.1f}{r.leak_worst:6.1f} |{r.cpu_ms:5.1f}{r.wall_ms:5.1f} | "
              f"{s['artefacts']:4.1f}{s['selectivity']:5.1f}{s['transfer']:5.1f}"
              f"{s['overall']:5.1f}")
    print("\nB. Transfer quality on the demo clips. band (db8 L8 reference), stft (STFT octave "
          "bands), mfcc\n   (c1-c19 means): distance to the style, output / content, lower = "
          "closer to the style;\n   onset: correlation of onset strength with the content's, "
          "higher = rhythm kept;\n   occ: stft over only the bands the content occupies "
          "(share > -40 dB): boosting near-empty\n   bands (< 172 Hz here) mostly lifts leaked "
          "and aliased energy")
    print(f"{'wavelet':8}{'L':>3} | {'timbre, strength 0.8':^34} | {'mosaic':^27}")
    print(f"{'':11} |" + "".join(f"{k:>7}" for k in TIMBRE_KEYS) + " |"
          + "".join(f"{k:>7}" for k in MOSAIC_KEYS))
    for r in rows:
        cells = [" ".join(f"{r.quality[f'{m}.{k}']:6.3f}" for k in keys)
                 for m, keys in (("timbre", TIMBRE_KEYS), ("mosaic", MOSAIC_KEYS))]
        note = "" if r.wavelet in supported_wavelets() else "  (rejected by styletransfer)"
        print(f"{r.wavelet:8}{r.level:3d} | {cells[0]} | {cells[1]}{note}")


def main() -> None:
    warnings.filterwarnings("ignore", category=UserWarning)
    started = time.perf_counter()
    content = plucked_melody(SR)
    style = breathy_drone(SR, seconds=6)
    ref_content, ref_style = describe(content), describe(style)
    noise = np.random.default_rng(0).standard_normal((2, 10 * SR))

    def measure(wavelet: str, level: int) -> Row:
        row = Row(wavelet, level)
        artefacts(row)
        selectivity(row)
        quality(row, content, style, ref_content, ref_style)
        print(f"  measured {wavelet:6} L{level:<2} ({time.perf_counter() - started:4.0f} s)",
              flush=True)
        return row

    print(f"Wavelets at depth {BASE_LEVEL}, {SR} Hz:")
    base = [measure(w, BASE_LEVEL) for w in WAVELETS]
    base_score = scores(base)
    usable = [w for w in WAVELETS if w in supported_wavelets()]
    top = sorted(usable, key=lambda w: base_score[(w, BASE_LEVEL)]["overall"])[:3]
    print(f"Depths {LEVELS} for the 3 best usable wavelets: {', '.join(top)}")
    by_key = {(r.wavelet, r.level): r for r in base}
    for w in top:
        for level in LEVELS:
            if level != BASE_LEVEL:
                by_key[(w, level)] = measure(w, level)

    print("  timing analysis + resynthesis ...", flush=True)
    speed(list(by_key.values()), noise)
    print(f"\n=== Wavelets at depth {BASE_LEVEL} (ranks among these {len(base)}) ===")
    print_tables(base, base_score)
    depth_score: Scores = {}
    for w in top:  # depths are ranked against the other depths of the same wavelet
        depth_score |= scores([by_key[(w, level)] for level in LEVELS])
    print(f"\n=== Depths for {', '.join(top)} (ranks among the {len(LEVELS)} depths of each "
          "wavelet) ===")
    print_tables([by_key[(w, level)] for w in top for level in LEVELS], depth_score)
    recommend(base_score, top, by_key, depth_score)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")


#: A default depth must split the bass from the low mids: its lowest band ends below this.
MAX_LOWEST_HZ = 100.0


def recommend(base_score: Scores, top: Sequence[str], by_key: dict[tuple[str, int], Row],
              depth_score: Scores) -> None:
    best = top[0]
    deep_enough = [lv for lv in LEVELS if SR / 2 / 2**lv <= MAX_LOWEST_HZ]
    level = min(deep_enough, key=lambda lv: depth_score[(best, lv)]["overall"])
    r, cur, d = by_key[(best, BASE_LEVEL)], by_key[CURRENT], by_key[(best, level)]
    spread = [by_key[(best, lv)].quality["mosaic.onset"] for lv in LEVELS]
    print("\n=== Recommendation ===")
    print(f"Default wavelet {best}, depth {level} at 44.1 kHz (lowest band 0-{d.low_edge:.0f} "
          f"Hz); current: {CURRENT[0]}, depth {CURRENT[1]}.")
    ranked = ", ".join(f"{w} {base_score[(w, BASE_LEVEL)]['overall']:.1f}"
                       for w in dict.fromkeys([*top, CURRENT[0]]))
    print(f"- {best} has the best overall rank of the usable wavelets at depth {BASE_LEVEL} "
          f"({ranked}); dmey, rejected by styletransfer (see recon), is only a yardstick.")
    if best == CURRENT[0]:
        print(f"- it is already the default: artefacts static/moving mid "
              f"{r.spurious['static.mid']:.1f}/{r.spurious['moving.mid']:.1f} dB, leakage "
              f"{r.leak_mean:.1f} dB, {r.cpu_ms:.1f} ms CPU per second.")
    else:
        print(f"- vs {CURRENT[0]}: artefacts static/moving mid {r.spurious['static.mid']:.1f}/"
              f"{r.spurious['moving.mid']:.1f} dB vs {cur.spurious['static.mid']:.1f}/"
              f"{cur.spurious['moving.mid']:.1f}, tone {r.spurious['static.tone']:.1f} vs "
              f"{cur.spurious['static.tone']:.1f}, leakage {r.leak_mean:.1f} vs "
              f"{cur.leak_mean:.1f} dB; cost {r.cpu_ms:.1f} vs {cur.cpu_ms:.1f} ms CPU/s.")
        print(f"- transfer vs {CURRENT[0]}: timbre stft {r.quality['timbre.stft']:.3f} vs "
              f"{cur.quality['timbre.stft']:.3f} but occupied bands {r.quality['timbre.occ']:.3f}"
              f" vs {cur.quality['timbre.occ']:.3f} (the gap is leakage lifted in empty bands); "
              f"mosaic mfcc {r.quality['mosaic.mfcc']:.3f} vs {cur.quality['mosaic.mfcc']:.3f}, "
              f"onset {r.quality['mosaic.onset']:.3f} vs {cur.quality['mosaic.onset']:.3f} "
              f"(over {best}'s depths: {min(spread):.3f}-{max(spread):.3f}).")
    depth_ranks = ", ".join(f"L{lv} {depth_score[(best, lv)]['overall']:.1f}"
                            for lv in deep_enough)
    print(f"- depth: of the depths whose lowest band ends below {MAX_LOWEST_HZ:.0f} Hz (ranks "
          f"{depth_ranks}), L{level} ranks best; shallower depths score better on artefacts "
          "only by merging the bass into one band.")


if __name__ == "__main__":
    main()
