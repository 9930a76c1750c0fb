"""A RenderPlan as OSC commands to the SynthDefs in ``sc/``: the score both ways of
rendering it share (see `PlanScore`):

- offline: the commands and the plan's frame table become a binary score that
  ``scsynth -N`` renders to a file (`styletransfer.supercollider.nrt.render_nrt`);
- live: the same commands go to a running server in one bundle, and the frame table is
  written into a ring buffer a little ahead of the audio (``styletransfer.supercollider.live``).

Every synth starts in one bundle, and from then on everything is timed by the server's
audio clock, never by a system clock: offline and live renders are the same, sample for
sample, whatever the sound card's clock does. The synths, in order of execution
(everything stereo; mono audio is played on both channels and the first is kept):

- ``st_play`` plays the content onto `CONTENT_BUS`, after `PlanScore.lead_samples` of
  silence (the content's buffer starts with them);
- ``st_frames`` reads each frame's row of the frame table (`PlanScore.table`) as the
  frame starts and puts its band gains, and the style sample its grain starts at, on
  control buses;
- ``mosaic``: ``st_grains`` starts a grain every frame, playing the chosen style frame two
  frames long under a sine-squared window, onto `GRAIN_BUS`;
- the equaliser, in one group, applies the band gains, interpolated linearly between
  frame centres as the numpy engine does. Octave bands (``bands_per_octave`` 1): one
  ``st_split`` per band edge and an ``st_bandsum``, whose gains ramp over a frame.
  Finer bands: one ``st_fftbands``, FFT bands exact to a bin (`fft_bins`) whose gains
  are interpolated sample by sample; it delays the sound by `fft_latency` samples. In
  ``timbre``/``identity`` the equaliser shapes the content and writes the output; in
  ``mosaic`` it shapes the grains and ``st_envelope`` gives them the content's power
  envelope.

Frame ``i`` starts ``i * hop`` samples after the start and the content half a frame
later, so the grain for frame 0 can start half a frame early, as in the numpy engine;
the gains then ramp over one frame to reach frame ``i``'s value at its centre. Renders
are trimmed by that delay (`PlanScore.delay_samples`), which includes the FFT's latency
for finer bands (in mosaic ``st_envelope`` delays the content, its guide, by that
much too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..analysis import band_sizes
from ..errors import ParameterError
from ..plan import RenderPlan
from . import osc
from .compile import synthdef_bytes

#: Bands the live-input analyser (``st_analyser``) measures at most.
MAX_BANDS = 17
#: Private stereo audio buses: the content, the mosaic grains, the equaliser's running
#: sum and remainder, and the equalised signal before the envelope (mosaic).
CONTENT_BUS = 16
GRAIN_BUS = 18
SUM_BUS = 20
REST_BUS = 22
SHAPED_BUS = 24
#: More private stereo buses: a chain's result (and a second chain's), what ``st_mix``
#: makes of them and the dry signal (the safety stage's input), and a live input before
#: its safety stage.
WET_BUS = 26
SECOND_BUS = 28
MIX_BUS = 30
INPUT_BUS = 32
#: Channels every SynthDef works in.
SC_CHANNELS = 2
SYNTHDEFS = ("st_play", "st_frames", "st_grains", "st_split", "st_bandsum", "st_fftbands",
             "st_envelope", "st_analyser", "st_recorder", "st_mix", "st_safety")
#: Bands ``st_fftbands`` holds at most.
FFT_MAX_BANDS = 64
#: Frame hops (samples) ``st_fftbands`` works with: powers of two in this range (its FFT
#: is two frames long, and scsynth's FFT stops at 2**15).
FFT_HOP_RANGE = (256, 16384)
#: scsynth's control block (samples).
BLOCK_SIZE = 64
#: The largest float32: audio beyond it (or NaN, which compares false) is not sound.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Values in a frame table row besides the gains: the frame's number, the grain start,
#: the dry/wet mix (1: all wet) and the weight of a second chain (0: none).
ROW_EXTRA = 4


@dataclass(frozen=True)
class Ids:
    """Buffers, nodes and control buses a rendering uses, so exactly these can be freed.

    The band gains live on control buses ``gain_bus .. gain_bus + n_bands - 1`` (lowest
    band first): a performer's own synths can read them there. The buses after them hold
    the grain start, the dry/wet mix, the second chain's weight, what ``st_frames``
    writes beyond them, and the counts of non-finite samples of the safety stages (the
    output's, then a live input's): `PlanScore.control_buses` in all.
    """

    content_buf: int = 0
    style_buf: int = 1
    table_buf: int = 2
    player: int = 1000
    group: int = 1001
    first_node: int = 1002
    gain_bus: int = 0
    bus_offset: int = 0


def check_plan(plan: RenderPlan) -> None:
    """Raise `ParameterError` if the SuperCollider SynthDefs cannot render ``plan``."""
    check_grid(level=plan.level, hop=plan.hop, bands_per_octave=plan.bands_per_octave,
               n_channels=plan.n_channels)


def check_grid(*, level: int, hop: int, bands_per_octave: int,
               n_channels: int = 1) -> None:
    """Raise `ParameterError` if plans on this analysis grid cannot be rendered here.

    Octave bands always can; finer bands (``st_fftbands``) need a hop that is a power of
    two within `FFT_HOP_RANGE` and at most `FFT_MAX_BANDS` bands. Cheap: callers check
    before analysing anything.

    Examples
    --------
    >>> check_grid(level=8, hop=1024, bands_per_octave=8, n_channels=2)
    >>> check_grid(level=9, hop=2048, bands_per_octave=8)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    styletransfer.errors.ParameterError: the plan has 69 bands; the SuperCollider engine ...
    """
    if n_channels > SC_CHANNELS:
        raise ParameterError(f"the SuperCollider engine renders mono or stereo, not "
                             f"{n_channels} channels: use --engine numpy")
    if hop % BLOCK_SIZE or hop < 2 * BLOCK_SIZE:
        raise ParameterError(f"the SuperCollider engine plays frames of whole blocks: a hop "
                             f"of {hop} samples is not a multiple of {BLOCK_SIZE} of at least "
                             f"{2 * BLOCK_SIZE} (the rate is too low): use --engine numpy")
    if bands_per_octave == 1:
        return
    low, high = FFT_HOP_RANGE
    if hop & (hop - 1) or not low <= hop <= high:
        raise ParameterError(f"the SuperCollider engine renders bands finer than an octave "
                             f"with a hop of {low} to {high} samples, a power of two, not "
                             f"{hop}: use --engine numpy")
    n_bands = len(band_sizes(hop, level, bands_per_octave))
    if n_bands > FFT_MAX_BANDS:
        raise ParameterError(f"the plan has {n_bands} bands; the SuperCollider engine "
                             f"renders at most {FFT_MAX_BANDS}: use fewer --levels or "
                             "--bands-per-octave, or --engine numpy")


def fft_size(plan: RenderPlan) -> int:
    """FFT size of ``st_fftbands`` for ``plan``: two frames, so one bin per coefficient a
    frame of the wavelet bands (the narrowest band spans at least one bin).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=44100, n_samples=44100, n_channels=2, wavelet="db4",
    ...                            level=8, hop=1024, bands_per_octave=4)
    >>> narrowest = float(np.diff(plan.band_edges()).min())
    >>> fft_size(plan), round(44100 / fft_size(plan), 2), round(narrowest, 2)
    (2048, 21.53, 21.53)
    """
    return 2 * plan.hop


def fft_latency(plan: RenderPlan) -> int:
    """Samples by which ``st_fftbands`` delays its input: three frames less one block
    (one frame of delay that centres its FFTs on the plan's frames, then the FFT's own).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=22050, n_samples=22050, n_channels=1, wavelet="db4",
    ...                            level=7, hop=512, bands_per_octave=2)
    >>> fft_latency(plan)
    1472
    """
    return 3 * plan.hop - BLOCK_SIZE


def fft_bins(plan: RenderPlan) -> list[int]:
    """The first FFT bin of each band, then ``hop`` (the Nyquist bin, which the top band
    holds): the ``bin0`` .. ``binN`` controls of ``st_fftbands``.

    A bin belongs to the band its centre frequency falls in (a centre on an edge goes up).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=48000, n_samples=4096, n_channels=1, wavelet="db4",
    ...                            level=2, hop=256, bands_per_octave=2)
    >>> plan.band_edges()[:, 0].tolist()
    [0.0, 6000.0, 9000.0, 12000.0, 18000.0]
    >>> fft_bins(plan)
    [0, 64, 96, 128, 192, 256]
    """
    size = fft_size(plan)
    edges = [*plan.band_edges()[:, 0], plan.sr / 2]
    return [min(plan.hop, max(0, int(np.ceil(edge * size / plan.sr - 1e-9)))) for edge in edges]


def crossover_edges(plan: RenderPlan) -> list[float]:
    """The crossover frequencies (Hz) between the plan's bands, lowest first.

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=48000, n_samples=4096, n_channels=1, wavelet="db4",
    ...                            level=2, hop=1024)
    >>> crossover_edges(plan)
    [6000.0, 12000.0]
    """
    return [float(f) for f in plan.band_edges()[:-1, 1]]


@dataclass(frozen=True)
class PlanScore:
    """The OSC commands and the frame table that realise a plan.

    Parameters
    ----------
    plan : RenderPlan
        What to render.
    ids : Ids
        Buffers, nodes and buses to use.
    out_bus : int
        Where the result goes, through the output stage (0: the first hardware output,
        or the NRT output file).

    Examples
    --------
    >>> plan = RenderPlan.identity(sr=22050, n_samples=2048, n_channels=1, wavelet="db4",
    ...                            level=3, hop=512)
    >>> score = PlanScore(plan)
    >>> [m.address for m in score.start_messages(rows=plan.n_frames)][:3]
    ['/c_setn', '/g_new', '/s_new']
    >>> " ".join(m.args[0] for m in score.start_messages(rows=plan.n_frames)[2:])
    'st_split st_split st_split st_bandsum st_frames st_play st_mix st_safety'
    >>> score.table().shape, score.lead_samples, score.delay_samples
    ((4, 8), 256, 256)

    Finer bands take one ``st_fftbands``, and its latency:

    >>> fine = RenderPlan.identity(sr=22050, n_samples=22050, n_channels=1, wavelet="db4",
    ...                            level=7, hop=512, bands_per_octave=4)
    >>> score = PlanScore(fine)
    >>> names = [m.args[0] for m in score.start_messages(rows=8) if m.address == "/s_new"]
    >>> fine.n_bands, names
    (29, ['st_fftbands', 'st_frames', 'st_play', 'st_mix', 'st_safety'])
    >>> score.delay_samples, 256 + fft_latency(fine)
    (1728, 1728)
    """

    plan: RenderPlan
    ids: Ids = Ids()
    out_bus: int = 0

    @property
    def frame_seconds(self) -> float:
        return self.plan.frame_seconds

    @property
    def fft_bands(self) -> bool:
        """Whether the equaliser is ``st_fftbands`` (bands finer than an octave)."""
        return self.plan.bands_per_octave != 1

    @property
    def latency(self) -> int:
        """Samples the equaliser delays its input by (0 for octave bands)."""
        return fft_latency(self.plan) if self.fft_bands else 0

    @property
    def lead_samples(self) -> int:
        """Samples of silence before the content in its buffer: the content starts half a
        frame after the first frame (in a mosaic, ``st_envelope`` delays it by `latency`
        more, so that the envelope's guide meets the grains as they leave the
        equaliser). A whole number of blocks."""
        return self.plan.hop // 2

    @property
    def envelope_window(self) -> int:
        """Samples over which ``st_envelope`` sums power: an eighth of a frame."""
        return max(1, self.plan.hop // 8)

    @property
    def delay_samples(self) -> int:
        """Samples between the start of the score and the first sample of the result."""
        delay = self.plan.hop // 2 + self.latency
        if self.plan.mode == "mosaic":
            delay += self.envelope_window // 2
        return delay

    @property
    def end_time(self) -> float:
        """Seconds until the last sample of the result has been computed."""
        return (self.delay_samples + self.plan.n_samples) / self.plan.sr

    @property
    def stride(self) -> int:
        """Values in a row of the frame table: the frame's number, its gains, the grain
        start, the dry/wet mix and the second chain's weight."""
        return self.plan.n_bands + ROW_EXTRA

    @property
    def mix_bus(self) -> int:
        """The control bus of the dry/wet mix (the second chain's weight is the next)."""
        return self.ids.gain_bus + self.plan.n_bands + 1

    @property
    def count_bus(self) -> int:
        """The control bus counting the non-finite samples the output's safety stage met
        (a live input's safety stage counts on the next one)."""
        return self.ids.gain_bus + self.stride

    @property
    def control_buses(self) -> int:
        """Control buses used from ``gain_bus`` on: those `st_frames` writes, and the two
        counts."""
        return self.stride + 2

    @property
    def dry_delay(self) -> int:
        """Samples by which the dry signal (the content's bus) must be delayed to meet
        the result."""
        return self.delay_samples - self.lead_samples

    def bus(self, bus: int) -> int:
        """One of the equaliser's private audio buses (`GRAIN_BUS`, `SUM_BUS`, `REST_BUS`,
        `SHAPED_BUS`) for this chain: moved by ``ids.bus_offset``, so two chains never
        share one."""
        return bus + self.ids.bus_offset

    @property
    def node_ids(self) -> list[int]:
        """The equaliser's nodes (one per crossover and the band sum, or the one
        ``st_fftbands``), then the envelope's and the grains' (mosaic), then
        ``st_frames``', ``st_mix``'s and the safety stage's. At most ``n_bands + 5``."""
        plan = self.plan
        count = 1 if self.fft_bands else plan.n_bands
        count += 2 if plan.mode == "mosaic" else 0
        return list(range(self.ids.first_node, self.ids.first_node + count + 3))

    def table(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """``(stop - start, stride)`` float32 rows of the frame table: each frame's number,
        its gains, the style sample its grain starts at (mosaic; else 0), the dry/wet mix
        (1) and the second chain's weight (0).

        Examples
        --------
        >>> plan = RenderPlan.identity(sr=22050, n_samples=2048, n_channels=1,
        ...                            wavelet="db4", level=3, hop=512)
        >>> PlanScore(plan).table(1, 3).tolist()
        [[1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0], [2.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]]
        """
        plan = self.plan
        stop = plan.n_frames if stop is None else min(stop, plan.n_frames)
        frames = np.arange(start, stop)
        rows = np.empty((frames.size, self.stride), dtype=np.float32)
        n_bands = plan.n_bands
        rows[:, 0] = frames
        rows[:, 1:1 + n_bands] = plan.gains[start:stop]
        rows[:, 1 + n_bands] = self.grain_starts(frames)
        rows[:, 2 + n_bands] = 1.0
        rows[:, 3 + n_bands] = 0.0
        return rows

    def grain_starts(self, frames: np.ndarray) -> np.ndarray:
        """The style sample each of ``frames``' grains starts at: half a frame before its
        style frame (0 for a plan without grains)."""
        if self.plan.mode != "mosaic":
            return np.zeros(frames.size)
        hop = self.plan.hop
        return np.maximum(0, self.plan.segments[frames] * hop - hop // 2)

    def table_message(self, start: int, stop: int, rows: int,
                      values: np.ndarray | None = None) -> osc.Message:
        """``/b_setn``: frames ``start`` to ``stop`` into a ring of ``rows`` rows (their
        rows of `table`, or ``values``); the frames must not wrap around the ring's end."""
        first = start % rows
        if first + (stop - start) > rows:
            raise ParameterError("frames written to the ring must not wrap around its end")
        rows_ = self.table(start, stop) if values is None else values
        return osc.b_setn(self.ids.table_buf, first * self.stride, rows_.ravel().tolist())

    def gain_message(self, index: int) -> osc.Message:
        """``/c_setn``: frame ``index``'s values (gains, grain start, mix, second chain's
        weight) onto their buses, before any synth reads them."""
        return osc.c_setn(self.ids.gain_bus, self.table(index, index + 1)[0, 1:].tolist())

    def equaliser_messages(self, *, in_bus: int = CONTENT_BUS, lag: float = 0.0,
                           wet_bus: int = WET_BUS) -> list[osc.Message]:
        """The equaliser in a group at the tail, its gains reached by ramps of ``lag``
        seconds; in mosaic, the envelope after it. The result goes to ``wet_bus``.

        ``in_bus`` is what a timbre plan equalises (the content player's bus, or a live
        input's); a mosaic plan equalises its grains.
        """
        plan, ids = self.plan, self.ids
        mosaic = plan.mode == "mosaic"
        nodes = iter(self.node_ids)
        messages = [osc.g_new(ids.group, osc.AddAction.TAIL, 0)]
        source = self.bus(GRAIN_BUS) if mosaic else in_bus
        shaped = self.bus(SHAPED_BUS) if mosaic else wet_bus
        rest, total = self.bus(REST_BUS), self.bus(SUM_BUS)
        if self.fft_bands:
            messages.append(self._fft_message(next(nodes), source, shaped))
        else:
            for band, freq in enumerate(crossover_edges(plan)):
                messages.append(osc.s_new("st_split", next(nodes), osc.AddAction.TAIL,
                                          ids.group, {
                    "in_bus": source if band == 0 else rest, "rest_bus": rest,
                    "sum_bus": total, "freq": freq, "gain_bus": ids.gain_bus + band,
                    "lag": lag}))
            last = plan.n_bands - 1
            messages.append(osc.s_new("st_bandsum", next(nodes), osc.AddAction.TAIL,
                                      ids.group, {
                "sum_bus": total, "rest_bus": rest, "gain_bus": ids.gain_bus + last,
                "lag": lag, "out_bus": shaped}))
        if mosaic:
            messages.append(osc.s_new("st_envelope", next(nodes), osc.AddAction.TAIL, ids.group, {
                "in_bus": shaped, "guide_bus": CONTENT_BUS, "out_bus": wet_bus,
                "envelope": plan.envelope, "window": self.envelope_window,
                "guide_delay": self.latency}))
        return messages

    def stage_messages(self, *, dry_bus: int = CONTENT_BUS, dry_delay: int | None = None,
                       dc_hz: float = 0.0, wet_delay: int = 0,
                       second_delay: int = 0) -> list[osc.Message]:
        """The output stage, at the tail: ``st_mix`` (the dry/wet mix and the second
        chain's weight from this chain's table; the dry signal ``dry_bus`` delayed by
        ``dry_delay`` samples, by default `dry_delay`, this chain's result by
        ``wet_delay`` and a second chain's by ``second_delay``), then ``st_safety``, which
        writes to ``out_bus`` what is finite (and, with ``dc_hz``, without DC)."""
        mixer, safety = self.node_ids[-2:]
        delay = self.dry_delay if dry_delay is None else dry_delay
        return [osc.s_new("st_mix", mixer, osc.AddAction.TAIL, 0, {
                    "wet_bus": WET_BUS, "second_bus": SECOND_BUS, "dry_bus": dry_bus,
                    "out_bus": MIX_BUS, "control_bus": self.mix_bus,
                    "lag": self.frame_seconds, "dry_delay": delay, "wet_delay": wet_delay,
                    "second_delay": second_delay}),
                osc.s_new("st_safety", safety, osc.AddAction.TAIL, 0, {
                    "in_bus": MIX_BUS, "out_bus": self.out_bus, "dc_hz": dc_hz,
                    "count_bus": self.count_bus, "check_id": 1})]

    def chain_messages(self, *, rows: int, wet_bus: int = WET_BUS,
                       last: int | None = None) -> list[osc.Message]:
        """This plan's chain, in its group: frame 0's values on the buses, the equaliser
        (`equaliser_messages`, onto ``wet_bus``), the grains (mosaic) and ``st_frames``
        reading a table of ``rows`` rows, holding from frame ``last`` on (default: the
        plan's end; a stream whose frames are made as it plays gives its own)."""
        plan, ids = self.plan, self.ids
        nodes = self.node_ids
        messages = [self.gain_message(0),
                    *self.equaliser_messages(lag=0.0 if self.fft_bands else self.frame_seconds,
                                             wet_bus=wet_bus)]
        if plan.mode == "mosaic":
            messages.append(osc.s_new("st_grains", nodes[-4], osc.AddAction.HEAD, ids.group, {
                "buf": ids.style_buf, "out_bus": self.bus(GRAIN_BUS),
                "start_bus": ids.gain_bus + plan.n_bands, "hop": plan.hop}))
        messages.append(osc.s_new("st_frames", nodes[-3], osc.AddAction.HEAD, ids.group, {
            "buf": ids.table_buf, "rows": rows, "stride": self.stride, "hop": plan.hop,
            "gain_bus": ids.gain_bus, "last": plan.n_frames if last is None else last}))
        return messages

    def player_message(self) -> osc.Message:
        """``st_play`` of the content onto `CONTENT_BUS`, at the head."""
        return osc.s_new("st_play", self.ids.player, osc.AddAction.HEAD, 0, {
            "buf": self.ids.content_buf, "out_bus": CONTENT_BUS})

    def start_messages(self, *, rows: int, dc_hz: float = 0.0) -> list[osc.Message]:
        """Everything that starts the plan, in one bundle: its chain (`chain_messages`),
        the content player and the output stage (`stage_messages`, with ``dc_hz``)."""
        return [*self.chain_messages(rows=rows), self.player_message(),
                *self.stage_messages(dc_hz=dc_hz)]

    def _fft_message(self, node: int, source: int, shaped: int) -> osc.Message:
        """``/s_new st_fftbands``: the whole equaliser for bands finer than an octave."""
        bins = fft_bins(self.plan)
        bins += [bins[-1]] * (FFT_MAX_BANDS + 1 - len(bins))
        return osc.s_new("st_fftbands", node, osc.AddAction.TAIL, self.ids.group, {
            "in_bus": source, "out_bus": shaped, "gain_bus": self.ids.gain_bus,
            "hop": self.plan.hop, **{f"bin{index}": bin_ for index, bin_ in enumerate(bins)}})

    def content_signal(self, signal: np.ndarray) -> np.ndarray:
        """What the content buffer holds: `lead_samples` of silence, then ``signal``."""
        return np.pad(signal, ((0, 0), (self.lead_samples, 0)))

    def nrt_bundles(self, content_path: str | None, style_path: str | None,
                    table_path: str, *, dc_hz: float = 0.0) -> list[osc.Bundle]:
        """The whole offline score: the SynthDefs, the buffers (the content as
        `content_signal` made it, the style, the whole frame table as a mono file at
        ``table_path``) and `start_messages` (with ``dc_hz``) at 0, an empty bundle at
        `end_time`."""
        messages = [osc.d_recv(synthdef_bytes(name)) for name in SYNTHDEFS]
        if content_path is not None:
            messages.append(osc.b_alloc_read(self.ids.content_buf, content_path))
        if style_path is not None and self.plan.mode == "mosaic":
            messages.append(osc.b_alloc_read(self.ids.style_buf, style_path))
        messages.append(osc.b_alloc_read(self.ids.table_buf, table_path))
        messages += self.start_messages(rows=self.plan.n_frames, dc_hz=dc_hz)
        block = BLOCK_SIZE / self.plan.sr
        return [osc.Bundle(0.0, tuple(messages)), osc.Bundle(self.end_time + block, ())]


def write_stereo(path: Path, signal: np.ndarray, sr: int) -> int:
    """``signal`` as a float WAV with two channels (mono is doubled), for a buffer.

    NaN and infinite samples (and any beyond float32) are written as silence, so that no
    buffer on a server ever holds one; returns how many samples of ``signal`` were.

    Examples
    --------
    >>> write_stereo(Path("/tmp/buf.wav"), np.array([[0.5, np.nan, -np.inf, 0.25]]), 8000)
    2
    >>> sf.read("/tmp/buf.wav")[0][:, 0].tolist()
    [0.5, 0.0, 0.0, 0.25]
    """
    signal = np.asarray(signal)
    sound = np.abs(signal) <= FLOAT32_MAX
    bad = int(sound.size - np.count_nonzero(sound))
    samples = (np.where(sound, signal, 0.0) if bad else signal).astype(np.float32)
    stereo = np.repeat(samples, 2, axis=0) if samples.shape[0] == 1 else samples
    sf.write(path, np.ascontiguousarray(stereo.T), sr, subtype="FLOAT")
    return bad


def write_table(path: Path, rows: np.ndarray, sr: int) -> None:
    """A frame table (`PlanScore.table`) as a mono float WAV, row after row, for a buffer."""
    sf.write(path, np.ascontiguousarray(rows, dtype=np.float32).ravel(), sr, subtype="FLOAT")
