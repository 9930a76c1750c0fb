"""Live synthesis: new sound in a style, played on a SuperCollider server for as long as
wanted, in memory that does not grow.

A synthesis plan is a mosaic of the style's own frames with no content (envelope 0), so
a live stream plays it as it plays a mosaic transfer (`stream_set`, ``st_grains`` over
the style's buffer, the frame table ring kept ``latency`` ahead of the audio clock);
only where the frames come from differs. `SynthFrames` is the live set's `FrameSource`:
it asks each style's walk (`Synthesiser`) for frames as the ring needs them, `MAKE_FRAMES`
at a time, and forgets them once played. The server holds the style's audio (one
buffer, loaded once), the frame table ring and nothing else; Python holds the walk's
state and a window of frames around the one playing.

Frame numbers are exact in float32 (the server's frame counter) up to 2**24, so an
endless stream (no ``seconds``) is `ENDLESS_FRAMES` long: 99 hours at 48 kHz with
1024-sample frames.

Examples
--------
>>> import numpy as np
>>> from styletransfer.synth import prepare
>>> style = np.random.default_rng(0).standard_normal((1, 3 * 22050)).astype(np.float32)
>>> live = synth_set([prepare([(style, 22050)])], SynthSettings(), seconds=60.0)
>>> live.modes, live.n_frames, live.first.n_frames, live.content is None
(('mosaic',), 2584, 1, True)
>>> gains, segments = live.source.frames(0, 0, 4)
>>> gains.shape, segments.shape
((4, 8), (4,))
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..errors import InternalError, ParameterError
from ..synth import PlanChunk, StyleIndex, Synthesiser, check_seconds, chunk_plan
from ..synth_settings import SynthSettings
from .control import ControlListener
from .live import DEFAULT_LATENCY, stream_set
from .session import LiveReport
from .timeline import CROSSFADE_SECONDS, LiveSet

__all__ = ["ENDLESS_FRAMES", "KEEP_FRAMES", "MAKE_FRAMES", "SynthFrames", "play_synth",
           "synth_set"]

#: Frames a walk makes at a time, when the stream asks beyond those made.
MAKE_FRAMES = 16
#: Frames kept behind the newest one forgotten before (rows written again by a control,
#: the frame a freeze holds).
KEEP_FRAMES = 64
#: Frames of a stream without an end: frame numbers stay exact in float32.
ENDLESS_FRAMES = 2**24 - 64


class SynthFrames:
    """Each style's walk, made a few frames at a time as a stream asks for them.

    Frames count from the stream's start, the same for every style; a style is walked
    only while it is asked for (one not played for a while goes on from where its walk
    was). Memory is a window of about `KEEP_FRAMES` + `MAKE_FRAMES` + the frames asked
    ahead, per style.

    Parameters
    ----------
    walkers : sequence of Synthesiser
        One walk per style (all on one analysis grid).
    n_samples : int
        Samples the stream plays.

    Examples
    --------
    >>> import numpy as np
    >>> from styletransfer.synth import prepare
    >>> y = np.random.default_rng(1).standard_normal((1, 66150)).astype(np.float32)
    >>> index = prepare([(y, 22050)])
    >>> frames = SynthFrames([Synthesiser(index, SynthSettings(), seed=3)], 22050 * 600)
    >>> offline = Synthesiser(index, SynthSettings(), seed=3).next_frames(300).segments
    >>> parts = [frames.frames(0, low, low + 10)[1] for low in range(0, 300, 10)]
    >>> frames.forget_before(290)
    >>> bool(np.array_equal(np.concatenate(parts), offline)), frames.held(0) <= 100
    (True, True)
    """

    def __init__(self, walkers: Sequence[Synthesiser], n_samples: int) -> None:
        if not walkers:
            raise ParameterError("no style given: add --style FILE")
        self.walkers = list(walkers)
        self.hop = walkers[0].index.style.hop
        self.n_samples = int(n_samples)
        self.n_frames = -(-self.n_samples // self.hop)
        n_bands = walkers[0].index.style.n_bands
        self._start = [0] * len(self.walkers)
        self._segments = [np.empty(0, dtype=np.int64) for _ in self.walkers]
        self._gains = [np.empty((0, n_bands), dtype=np.float32) for _ in self.walkers]
        self._lock = threading.Lock()

    def frames(self, style: int, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
        """The gains ``(high - low, n_bands)`` and style frames ``(high - low,)`` of frames
        ``low`` to ``high`` of ``style``'s walk."""
        with self._lock:
            start, made = self._start[style], self._start[style] + self._segments[style].size
            if low > made:  # not asked for a while: its walk goes on from here
                self._start[style], start, made = low, low, low
                self._segments[style] = self._segments[style][:0]
                self._gains[style] = self._gains[style][:0]
            if low < start:
                raise InternalError(f"frame {low} of a live synthesis was asked for after "
                                    f"it was forgotten (frames from {start} are kept)")
            if high > made:
                chunk = self.walkers[style].next_frames(max(MAKE_FRAMES, high - made))
                self._segments[style] = np.concatenate([self._segments[style],
                                                        chunk.segments])
                self._gains[style] = np.concatenate([self._gains[style], chunk.gains])
            part = slice(low - start, high - start)
            return self._gains[style][part], self._segments[style][part]

    def forget_before(self, frame: int) -> None:
        """Drop what lies more than `KEEP_FRAMES` before ``frame`` (played)."""
        with self._lock:
            for style, start in enumerate(self._start):
                cut = min(frame - KEEP_FRAMES - start, self._segments[style].size)
                if cut > 0:
                    self._segments[style] = self._segments[style][cut:].copy()
                    self._gains[style] = self._gains[style][cut:].copy()
                    self._start[style] = start + cut

    def held(self, style: int) -> int:
        """Frames of ``style`` held now."""
        with self._lock:
            return int(self._segments[style].size)


def synth_set(indexes: Sequence[StyleIndex], synth_settings: SynthSettings, *,
              seed: int = 0, seconds: float | None = None,
              crossfade_seconds: float = CROSSFADE_SECONDS) -> LiveSet:
    """A live set that synthesises in the style of each of ``indexes`` (one walk each,
    seeded ``seed``, ``seed + 1``, ...; the first plays at the start, ``/st/style i``
    switches to the ``i``-th), for ``seconds`` or without an end (`ENDLESS_FRAMES`).

    The first walk's frames are those `Synthesiser` makes offline with the same seed.
    """
    if not indexes:
        raise ParameterError("no style given: add --style FILE")
    first = indexes[0].style
    for index in indexes[1:]:
        style = index.style
        if (style.sr, style.hop, style.level, style.bands_per_octave, style.n_channels) != (
                first.sr, first.hop, first.level, first.bands_per_octave, first.n_channels):
            raise ParameterError("every --style of a live synthesis must be analysed on one "
                                 "grid: give styles learnt with the same settings")
    n_samples = ENDLESS_FRAMES * first.hop if seconds is None else \
        check_seconds(seconds, first.sr)
    if n_samples > ENDLESS_FRAMES * first.hop:
        raise ParameterError(f"--seconds {seconds:g} is too long for a live stream: at most "
                             f"{ENDLESS_FRAMES * first.hop / first.sr:.0f} (leave --seconds "
                             "out to play until stopped)")
    walkers = [Synthesiser(index, synth_settings, seed=seed + k)
               for k, index in enumerate(indexes)]
    source = SynthFrames(walkers, n_samples)
    plans = []
    for k, index in enumerate(indexes):  # frame 0 of each: the grid, and the first row
        gains, segments = source.frames(k, 0, 1)
        chunk = PlanChunk(0, segments.copy(), gains.copy(), index.labels[segments])
        plans.append(chunk_plan(index, chunk, settings={"seed": seed + k,
                                                        "synth": synth_settings.as_dict()}))
    crossfade = max(1, round(crossfade_seconds * first.sr / first.hop))
    return LiveSet((tuple(plans),), ((None,) * len(plans),), ("mosaic",), None,
                   tuple(index.style for index in indexes), 1.0, crossfade, source)


def play_synth(live: LiveSet, *, server: str | None = None, boot: bool = False,
               latency: float = DEFAULT_LATENCY,
               record: str | os.PathLike[str] | None = None,
               on_frame: Callable[[int, int], None] | None = None,
               control: ControlListener | None = None) -> LiveReport:
    """Play a live synthesis (`synth_set`) on a server until its end, ``/st/stop`` or
    Ctrl-C (which ends it as ``/st/stop`` does: the report says ``interrupted``).

    Parameters are those of `stream_set`; a recording holds what was played, from the
    first sample.

    Examples
    --------
    >>> play_synth(synth_set([index], SynthSettings(), seconds=10), boot=True,
    ...            record="take.wav")  # doctest: +SKIP
    """
    if live.source is None or live.content is not None:
        raise ParameterError("a live synthesis plays a set made by synth_set")
    return stream_set(live, server=server, boot=boot, latency=latency, record=record,
                      on_frame=on_frame, control=control, ctrl_c_stops=True)
