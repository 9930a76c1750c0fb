"""A stage progress bar on stderr, shown only for work that takes over a second."""

from __future__ import annotations

import sys
from types import TracebackType

from tqdm import tqdm


class StageBar:
    """Counts named stages on a tqdm bar; silent when off or when stderr is not a terminal.

    Examples
    --------
    >>> with StageBar(["load", "render"], enabled=False) as bar:
    ...     bar("load")
    ...     bar("render")
    """

    def __init__(self, stages: list[str] | tuple[str, ...], *, enabled: bool = True) -> None:
        show = enabled and sys.stderr.isatty()
        self._stages = list(stages)
        self._bar = tqdm(total=len(self._stages), file=sys.stderr, disable=not show, delay=1.0,
                         leave=False, unit="stage", dynamic_ncols=True,
                         bar_format="{desc:<20} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
        self._started = 0

    def __call__(self, stage: str) -> None:
        if self._started:
            self._bar.update(1)
        self._started += 1
        self._bar.set_description_str(stage, refresh=True)

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if kind is None and self._started:
            self._bar.update(1)
        self._bar.close()
