"""Live input on a running scsynth: an analyser measures the input's band powers every
frame and sends them back (SendReply); each frame is mapped to a style state here and
its band gains go straight back to the equaliser on the input (`style_input`). The loop
time of each frame is measured.

Octave bands are measured by ``st_analyser`` (the crossovers of the octave equaliser);
finer bands by ``st_fftanalyser``, an FFT on the grid of ``st_fftbands`` whose band
powers come from sc3-plugins' FFTSubbandPower (`fft_cuts`).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..audio import read
from ..errors import EngineError, ParameterError
from ..model import StyleModel
from ..plan import RenderPlan
from . import osc
from .compile import synthdef_bytes
from .control import ControlError, ControlListener, not_playing
from .score import (
    CONTENT_BUS,
    FFT_MAX_BANDS,
    INPUT_BUS,
    MAX_BANDS,
    SC_CHANNELS,
    Ids,
    PlanScore,
    check_grid,
    crossover_edges,
    fft_bins,
    fft_size,
)
from .server import ServerClient
from .session import GAIN_BUS_BASE, OUTPUT_DC_HZ, LiveReport, Session, connect
from .timeline import CROSSFADE_SECONDS

#: A cut frequency of ``st_fftanalyser`` above any Nyquist frequency: no cut.
NO_CUT = 1e6


def frame_gains(powers: np.ndarray, model: StyleModel, strength: float,
                max_boost_db: float, previous: np.ndarray | None = None,
                smoothing: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Band gains for one live frame: its band shape moved towards the nearest style state.

    ``powers`` are the frame's band powers (lowest first); the state whose mean band
    shape is nearest the frame's (after exponential smoothing of the shape with weight
    ``smoothing`` on the ``previous`` one) gives the target. Returns (gains, smoothed
    shape).

    The gains are finite whatever the powers: a silent frame (digital zero, denormal
    powers) or one holding a NaN or infinite power says nothing about the sound, so it
    gets gains of 1 and leaves the smoothed shape as it was.

    Examples
    --------
    >>> from styletransfer.model import StyleModel
    >>> rng = np.random.default_rng(0)
    >>> from styletransfer.analysis import analyse
    >>> model = StyleModel(2).fit([analyse(rng.standard_normal((1, 8192)), 22050, level=3)])
    >>> gains, shape = frame_gains(np.array([1.0, 1.0, 1.0, 1.0]), model, 1.0, 24.0)
    >>> gains.shape, bool(np.all(gains > 0))
    ((4,), True)
    >>> gains, same = frame_gains(np.array([0.0, np.nan, 1e-310, 0.0]), model, 1.0, 24.0, shape)
    >>> gains.tolist(), same is shape
    ([1.0, 1.0, 1.0, 1.0], True)
    """
    from ..gains import SILENT_ENERGY, band_gains

    energy = np.asarray(powers, dtype=np.float64)
    finite = bool(np.all(np.isfinite(energy)))
    energy = np.maximum(energy, 0.0)[None, :] if finite else energy[None, :]
    total = float(energy.sum()) if finite else 0.0
    if total <= SILENT_ENERGY * energy.size:
        kept = previous if previous is not None else np.full(energy.size, -np.log(energy.size))
        return np.ones(energy.size, dtype=np.float32), kept
    floor = max(total, 1e-20) * 1e-8
    shape = np.log(energy[0] + floor / energy.shape[1]) - np.log(total + floor)
    if previous is not None:
        shape = smoothing * previous + (1 - smoothing) * shape
    state = int(np.argmin(((model.shape_mean_ - shape) ** 2).sum(axis=1)))
    wanted = (1 - strength) * shape + strength * model.shape_mean_[state]
    gains = band_gains(energy, wanted[None, :], np.array([total]),
                       max_boost_db=max_boost_db)[0]
    return gains, shape


def fft_cuts(plan: RenderPlan) -> tuple[list[float], list[int]]:
    """``st_fftanalyser``'s cut frequencies for ``plan`` (padded to `FFT_MAX_BANDS` with
    `NO_CUT`), and the plan's bands they measure, lowest first.

    Each band but the lowest that holds FFT bins (`fft_bins`) starts at a cut half a bin
    below its first bin; bands that hold no bin are not measured (their power is 0).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=48000, n_samples=4096, n_channels=1, wavelet="db4",
    ...                            level=2, hop=256, bands_per_octave=2)
    >>> cuts, bands = fft_cuts(plan)
    >>> [round(cut, 1) for cut in cuts[:4]], len(cuts), bands
    ([5953.1, 8953.1, 11953.1, 17953.1], 64, [0, 1, 2, 3, 4])
    """
    bins = fft_bins(plan)
    bands = [band for band in range(plan.n_bands) if bins[band + 1] > bins[band]]
    bin_hz = plan.sr / fft_size(plan)
    cuts = [(bins[band] - 0.5) * bin_hz for band in bands[1:]]
    return cuts + [NO_CUT] * (FFT_MAX_BANDS - len(cuts)), bands


def _analyser_message(plan: RenderPlan, node: int, group: int) -> list[osc.Message]:
    """The analyser of a live input on ``plan``'s grid, before ``group`` (the equaliser)."""
    if plan.bands_per_octave == 1:
        edges = crossover_edges(plan)
        padded = edges + [edges[-1]] * (MAX_BANDS - 1 - len(edges))
        return [osc.s_new("st_analyser", node, osc.AddAction.BEFORE, group,
                          {"in_bus": CONTENT_BUS, "frame": plan.hop}),
                osc.n_setn(node, "edges", padded)]
    cuts, _ = fft_cuts(plan)
    return [osc.s_new("st_fftanalyser", node, osc.AddAction.BEFORE, group,
                      {"in_bus": CONTENT_BUS, "hop": plan.hop}),
            osc.n_setn(node, "cuts", cuts)]


def _load_fft_analyser(client: ServerClient, node: int) -> None:
    """Load ``st_fftanalyser`` and start and free it once as ``node``, or say that the
    server lacks sc3-plugins (it takes the def, but not a synth of it)."""
    client.send_def(synthdef_bytes("st_fftanalyser"))
    try:
        client.request(osc.s_new("st_fftanalyser", node, osc.AddAction.HEAD, 0,
                                 {"in_bus": CONTENT_BUS}), "/n_go", match=(node,))
    except EngineError as error:
        raise EngineError(f"{error}: live input in bands finer than an octave needs "
                          "sc3-plugins (FFTSubbandPower) on the server: install them "
                          "(Debian: sc3-plugins-server), or learn the style with "
                          "--bands-per-octave 1") from None
    client.send(osc.n_free(node))


def style_input(model: StyleModel, *, server: str | None = None, boot: bool = False,
                strength: float = 0.8, max_boost_db: float = 24.0,
                input_file: str | os.PathLike[str] | None = None,
                seconds: float | None = None, record: str | os.PathLike[str] | None = None,
                styles: Sequence[StyleModel] = (), control: ControlListener | None = None,
                ) -> LiveReport:
    """Style a live input after ``model``, on a SuperCollider server, until stopped.

    The input is the server's first two hardware inputs, or ``input_file`` played into
    the chain instead (for rehearsal without an interface). Runs for ``seconds``, to the
    end of ``input_file``, until Ctrl-C or ``/st/stop``. Each frame's loop time (analysis
    arriving -> gains confirmed by the server) goes into the report. A style with bands
    finer than an octave is measured by ``st_fftanalyser``, which needs sc3-plugins on the
    server, and must fit ``st_fftbands`` (`check_grid`).

    With ``control``, ``/st/strength`` and ``/st/freeze`` apply from the next frame's
    gains, ``/st/mix`` goes to the output stage's dry/wet bus, and ``/st/style i``
    crossfades to ``styles[i - 1]`` (style 0 is ``model``; the others must share its
    grid) over `CROSSFADE_SECONDS`; ``/st/mode`` is refused (live input plays timbre).

    Examples
    --------
    >>> style_input(model, boot=True, input_file="take.wav")  # doctest: +SKIP
    """
    sr, level, hop = model.sr_, model.level_, model.hop_
    check_grid(level=level, hop=hop, bands_per_octave=model.bands_per_octave_)
    models = [model, *styles]
    for index, other in enumerate(styles, start=1):
        if (other.sr_, other.level_, other.hop_, other.n_bands_) != (sr, level, hop,
                                                                      model.n_bands_):
            raise ParameterError(f"style {index} was learnt at {other.sr_} Hz with "
                                 f"{other.n_bands_} bands, style 0 at {sr} Hz with "
                                 f"{model.n_bands_}: learn every --style at one --sr "
                                 "and depth")
    n_bands = model.n_bands_
    stopped: KeyboardInterrupt | None = None
    if seconds is not None and not 0 < seconds <= 1e6:
        raise ParameterError(f"--seconds {seconds} is out of range: use a number of seconds "
                             "above 0")
    if model.bands_per_octave_ == 1 and n_bands > MAX_BANDS:
        raise ParameterError(f"the style has {n_bands} bands; live input measures at most "
                             f"{MAX_BANDS}: learn it with --levels {MAX_BANDS - 1} or fewer")
    report = LiveReport()
    with tempfile.TemporaryDirectory(prefix="st-input-") as work, \
            connect(server, boot=boot, sample_rate=sr) as (client, booted):
        session = Session(client, Path(work))
        session.load_defs()
        status = client.status()
        hardware_in = SC_CHANNELS  # the first input bus follows the output buses
        in_bus, duration = hardware_in, seconds
        plan = RenderPlan.identity(sr=int(status.nominal_sr or sr), n_samples=hop,
                                   n_channels=SC_CHANNELS, wavelet=model.wavelet_,
                                   level=level, hop=hop,
                                   bands_per_octave=model.bands_per_octave_)
        first = session.node_ids(len(PlanScore(plan).node_ids) + 4)
        player, guard, analyser = first, first + 1, first + 2
        if model.bands_per_octave_ != 1:
            _load_fft_analyser(client, analyser)
        ids = Ids(player=player, group=first + 3, first_node=first + 4,
                  gain_bus=GAIN_BUS_BASE)
        score = PlanScore(plan, ids)
        # the input's safety stage at the head (the file player, if any, before it)
        start: list[osc.Message] = []
        if input_file is not None:
            signal, file_sr = read(input_file)
            buf = session.load_audio("input", signal[:SC_CHANNELS], file_sr)
            start.append(osc.s_new("st_play", player, osc.AddAction.HEAD, 0,
                                   {"buf": buf, "out_bus": INPUT_BUS}))
            in_bus = INPUT_BUS
            length = signal.shape[1] / file_sr
            duration = length if duration is None else min(duration, length)
        start.insert(0, osc.s_new("st_safety", guard, osc.AddAction.HEAD, 0, {
            "in_bus": in_bus, "out_bus": CONTENT_BUS, "count_bus": score.count_bus + 1,
            "check_id": 0}))
        start += [score.gain_message(0), *score.equaliser_messages(in_bus=CONTENT_BUS),
                  *_analyser_message(plan, analyser, ids.group),
                  *score.stage_messages(dry_delay=0, dc_hz=OUTPUT_DC_HZ)]
        if record is not None:
            start.append(session.start_recording(Path(record).resolve()))
        loop = _InputLoop(client, models, score, strength, max_boost_db, report)
        client.on("/st/bands", loop.on_bands)
        client.on("/synced", loop.on_synced)
        stop = control.stop_requested if control is not None else threading.Event()
        client.send(osc.Bundle.now(start))
        try:
            began = time.monotonic()
            loop.began = began
            if control is not None:
                control.apply = loop.apply
            while (duration is None or time.monotonic() - began < duration) \
                    and not stop.is_set():
                time.sleep(0.01)
        except KeyboardInterrupt as exc:  # Ctrl-C, or a signal that stops the command
            report.interrupted, stopped = True, exc
        finally:
            if control is not None:
                control.apply = not_playing
            report.stopped = stop.is_set()
            client.off("/st/bands", loop.on_bands)
            client.off("/synced", loop.on_synced)
            report.bad_samples = session.bad_samples(score.count_bus)
            report.input_bad_samples = session.bad_samples(score.count_bus + 1)
            report.replaced = session.replaced
            session.close([player, guard, analyser, ids.group, *score.node_ids[-2:]])
        if booted is not None:
            report.late = booted.late_count
    if stopped is not None:
        raise stopped
    return report


class _InputLoop:
    """Answers each ``/st/bands`` with the frame's gains, measures the loop time, and
    applies live controls."""

    SYNC_BASE = 1_000_000

    def __init__(self, client: ServerClient, models: list[StyleModel], score: PlanScore,
                 strength: float, max_boost_db: float, report: LiveReport) -> None:
        self.client, self.models, self.score = client, models, score
        self.strength, self.max_boost_db = strength, max_boost_db
        plan = score.plan
        self.n_bands = plan.n_bands
        # octave bands: one power a band; finer: one a measured band (`fft_cuts`), as
        # mean power (FFTSubbandPower's scale undone: squared magnitudes over (hop+1)^1.5)
        if plan.bands_per_octave == 1:
            self.measured, self.scale = np.arange(self.n_bands), 1.0
        else:
            self.measured = np.array(fft_cuts(plan)[1])
            self.scale = (plan.hop + 1) ** 1.5 / plan.hop ** 2
        self.report = report
        self.shape: np.ndarray | None = None
        self.pending: dict[int, float] = {}
        self.lock = threading.Lock()
        self.count = 0
        self.began = time.monotonic()
        self.frozen = False
        self.style, self.previous, self.fade = 0, 0, 1.0  # crossfade: from, to, done
        self.fade_frames = max(1, round(CROSSFADE_SECONDS * score.plan.sr / score.plan.hop))

    def apply(self, name: str, value: float | str) -> None:
        """A `ControlListener`'s ``apply``: takes effect from the next frame."""
        began = time.perf_counter()
        if name == "mode":
            raise ControlError("not loaded", "live input plays timbre only: /st/mode "
                               "switches a stream of CONTENT started with --switch-modes")
        if name == "style" and not float(value) < len(self.models):
            raise ControlError("not loaded", f"style {float(value):g} is not loaded: "
                               f"{len(self.models)} style(s) were given (0 to "
                               f"{len(self.models) - 1})")
        with self.lock:
            if name == "strength":
                self.strength = float(value)
            elif name == "freeze":
                self.frozen = bool(value)
            elif name == "style" and int(float(value)) != self.style:
                self.previous, self.style, self.fade = self.style, int(float(value)), 0.0
        if name == "mix":
            self.client.send(osc.c_setn(self.score.mix_bus, [float(value)]))
        self.client.confirm()
        self.report.control_seconds.append(time.perf_counter() - began)
        self.report.controls.append((time.monotonic() - self.began, name, value))

    def on_bands(self, args: tuple[object, ...], arrived: float) -> None:
        measured = self.measured
        powers = np.zeros(self.n_bands)
        powers[measured] = [float(v) * self.scale  # type: ignore[arg-type]
                            for v in args[2: 2 + measured.size]]
        report = self.report
        if np.all(np.isfinite(powers)):  # a running mean
            report.analysed += 1
            before = report.band_powers if report.band_powers is not None else powers
            report.band_powers = before + (powers - before) / report.analysed
        with self.lock:
            frozen, strength = self.frozen, self.strength
            style, previous, fade = self.style, self.previous, self.fade
            self.fade = min(1.0, fade + 1.0 / self.fade_frames)
        if frozen:  # the gains on the buses stay as they are
            report.held += 1
            return
        shape = self.shape
        gains, self.shape = frame_gains(powers, self.models[style], strength,
                                        self.max_boost_db, shape)
        if fade < 1.0:  # log gains crossfaded from the style before
            before, _ = frame_gains(powers, self.models[previous], strength,
                                    self.max_boost_db, shape)
            gains = np.exp(fade * np.log(gains) + (1 - fade) * np.log(before))
        with self.lock:
            self.count += 1
            sync_id = self.SYNC_BASE + self.count
            self.pending[sync_id] = arrived
        self.client.send(osc.Bundle.now([osc.c_setn(self.score.ids.gain_bus,
                                                    [float(g) for g in gains]),
                                         osc.sync(sync_id)]))
        self.report.frames += 1
        self.report.send_seconds.append(time.perf_counter() - arrived)

    def on_synced(self, args: tuple[object, ...], arrived: float) -> None:
        if not args or not isinstance(args[0], int):
            return
        with self.lock:
            sent = self.pending.pop(args[0], None)
        if sent is not None:
            self.report.loop_seconds.append(arrived - sent)
