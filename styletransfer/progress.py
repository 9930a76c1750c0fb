"""Progress bars on stderr (stages of a run, items of a batch), shown only for work that
takes over a second and only on a terminal."""

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


class CountBar:
    """Counts finished items (files, contents) on a tqdm bar on stderr, with a running
    count of failures; silent when off or when stderr is not a terminal.

    Examples
    --------
    >>> with CountBar("reading", enabled=False) as bar:
    ...     bar.start(2)
    ...     bar.done()
    ...     bar.done(failed=True)
    >>> bar.finished, bar.failed
    (2, 1)
    """

    def __init__(self, description: str, *, enabled: bool = True, unit: str = "file") -> None:
        self._show = enabled and sys.stderr.isatty()
        self._description, self._unit = description, unit
        self._bar: tqdm[object] | None = None
        self.finished = self.failed = 0

    def start(self, total: int) -> None:
        """Show the bar for ``total`` items."""
        self._bar = tqdm(total=total, file=sys.stderr, disable=not self._show, delay=1.0,
                         leave=False, unit=self._unit, dynamic_ncols=True,
                         desc=self._description)

    def done(self, *, failed: bool = False) -> None:
        """One more item finished (``failed``: without a result)."""
        self.finished += 1
        self.failed += int(failed)
        if self._bar is not None:
            if failed:
                self._bar.set_postfix_str(f"{self.failed} failed", refresh=False)
            self._bar.update(1)

    def write(self, line: str) -> None:
        """Print ``line`` on stderr without breaking the bar."""
        tqdm.write(line, file=sys.stderr)

    def describe(self, text: str) -> None:
        """Change the bar's description (what is being done now)."""
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=True)

    def __enter__(self) -> CountBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.close()
