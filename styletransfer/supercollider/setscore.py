"""The score of a `LiveSet`: one chain per mode planned, one content player, one output
stage, so that a stream can crossfade between modes. With one mode it is the plan's own
score (`PlanScore.start_messages`), message for message.

Each chain is a `PlanScore` with its own group, nodes, frame table, control buses and
private audio buses; the first chain's result goes to `WET_BUS`, the second's to
`SECOND_BUS`, and ``st_mix`` delays each (and the dry content) so that all meet the
slowest: the score's `SetScore.delay_samples`. The first chain's table carries the
dry/wet mix and the second chain's weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

from . import osc
from .compile import synthdef_bytes
from .score import BLOCK_SIZE, SECOND_BUS, SYNTHDEFS, WET_BUS, Ids, PlanScore
from .timeline import LiveSet

#: Control buses each chain takes from its ``gain_bus`` (64 bands and their extras fit).
CHAIN_CONTROLS = 72
#: How far a second chain's private audio buses (grains, band sums) are moved.
CHAIN_BUS_OFFSET = 20


@dataclass(frozen=True)
class SetScore:
    """The OSC commands that realise a `LiveSet`.

    Parameters
    ----------
    live : LiveSet
        What to play.
    ids : Ids
        The content and style buffers, the player's node (the chains' nodes follow it),
        the first chain's gain bus; ``table_buf`` is the first chain's table, the next
        chains' follow it.
    out_bus : int
        Where the result goes.

    Examples
    --------
    >>> from styletransfer.plan import RenderPlan
    >>> plan = RenderPlan.identity(sr=22050, n_samples=4096, n_channels=1, wavelet="db4",
    ...                            level=3, hop=512)
    >>> score = SetScore(LiveSet.single(plan, None, None), Ids(player=10, table_buf=5))
    >>> one = score.chains[0]
    >>> score.start_messages(rows=8) == one.start_messages(rows=8)
    True
    >>> one.ids.group, one.ids.first_node, score.n_nodes
    (11, 12, 9)
    """

    live: LiveSet
    ids: Ids = field(default_factory=Ids)
    out_bus: int = 0

    @property
    def span(self) -> int:
        """Node ids each chain takes: its group and its nodes."""
        return max(len(PlanScore(row[0]).node_ids) for row in self.live.plans) + 1

    @property
    def n_nodes(self) -> int:
        """Node ids the score takes from ``ids.player`` on."""
        return 1 + self.span * len(self.live.plans)

    @cached_property
    def chains(self) -> list[PlanScore]:
        """One `PlanScore` per mode (its first style's plan), with its own ids."""
        ids, span = self.ids, self.span
        chains = []
        for index, row in enumerate(self.live.plans):
            group = ids.player + 1 + index * span
            chains.append(PlanScore(row[0], replace(
                ids, table_buf=ids.table_buf + index, group=group, first_node=group + 1,
                gain_bus=ids.gain_bus + index * CHAIN_CONTROLS,
                bus_offset=index * CHAIN_BUS_OFFSET), out_bus=self.out_bus))
        return chains

    @property
    def delay_samples(self) -> int:
        """Samples between the start and the first sample of the result (the slowest
        chain's)."""
        return max(chain.delay_samples for chain in self.chains)

    @property
    def end_time(self) -> float:
        """Seconds until the last sample of the result has been computed."""
        return (self.delay_samples + self.live.n_samples) / self.live.first.sr

    @property
    def count_bus(self) -> int:
        """The control bus counting the output safety stage's non-finite samples."""
        return self.chains[0].count_bus

    @property
    def nodes(self) -> list[int]:
        """What to free at the end: the player, each chain's group, the output stage."""
        return [self.ids.player, *(chain.ids.group for chain in self.chains),
                *self.chains[0].node_ids[-2:]]

    def start_messages(self, *, rows: int, dc_hz: float = 0.0) -> list[osc.Message]:
        """Every chain (tables of ``rows`` rows), the content player and the output
        stage (with ``dc_hz``), in one bundle."""
        chains, delay = self.chains, self.delay_samples
        messages: list[osc.Message] = []
        for index, chain in enumerate(chains):
            messages += chain.chain_messages(rows=rows, last=self.live.n_frames,
                                             wet_bus=WET_BUS if index == 0 else SECOND_BUS)
        messages.append(chains[0].player_message())
        second = delay - chains[1].delay_samples if len(chains) > 1 else 0
        messages += chains[0].stage_messages(
            dry_delay=delay - chains[0].lead_samples, wet_delay=delay - chains[0].delay_samples,
            second_delay=second, dc_hz=dc_hz)
        return messages

    def nrt_bundles(self, content_path: str, style_path: str | None,
                    table_paths: list[str], *, dc_hz: float = 0.0) -> list[osc.Bundle]:
        """The offline score: the SynthDefs, the content, the style (mosaic) and each
        chain's whole table (mono files), `start_messages` at 0, an empty bundle at
        `end_time`."""
        messages = [osc.d_recv(synthdef_bytes(name)) for name in SYNTHDEFS]
        messages.append(osc.b_alloc_read(self.ids.content_buf, content_path))
        if style_path is not None and "mosaic" in self.live.modes:
            messages.append(osc.b_alloc_read(self.ids.style_buf, style_path))
        for chain, path in zip(self.chains, table_paths, strict=True):
            messages.append(osc.b_alloc_read(chain.ids.table_buf, path))
        messages += self.start_messages(rows=self.live.n_frames, dc_hz=dc_hz)
        block = BLOCK_SIZE / self.live.first.sr
        return [osc.Bundle(0.0, tuple(messages)), osc.Bundle(self.end_time + block, ())]
