"""Where the work of many files runs: this process, a local process pool, or Dask.

A `Runner` does two things for the commands that handle many files (`learn` on a corpus,
`run` on many contents):

- `Runner.map` runs a function of one item (one file) on every item and returns the
  results in the items' order, reporting each as it finishes;
- `Runner.shards` places shards of data where they will be worked on and returns a
  function that runs a per-shard function on all of them, results in shard order (the
  reductions of `streaming.fit_states`).

`LocalRunner` runs in this process (``jobs=1``) or maps over a pool of ``jobs`` processes
(`concurrent.futures`) and reduces shards in threads; `DaskRunner` sends both to a Dask
cluster: a `distributed.LocalCluster` of ``workers`` processes started here, or the
scheduler at an address. Results are the same whichever runs them: items are independent,
and shard results are added in shard order.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from typing import Any

from .errors import ParameterError
from .streaming import ShardMap

#: Installing what ``--workers`` and ``--scheduler`` need.
DASK_HINT = "install Dask with pip install 'aioli-styletransfer[dask]'"
#: Seconds to wait for a scheduler named with ``--scheduler``.
CONNECT_SECONDS = 10
#: Dask settings of the cluster ``--workers`` starts. Its workers run one long numpy task
#: after another, so the statistical profiler (a stack sample every 10 ms), the event-loop
#: tick monitor (every 20 ms) and the memory and system monitors (every 100 and 500 ms)
#: only take time from them: learning 40 clips on one worker took 29 s of CPU with
#: Dask's defaults, 12 s with these, on a busy machine.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}
#: The scheduler's HTTP endpoints (health, metrics) on a free local port: the default,
#: 8787, may be taken by another cluster, which Dask warns about in three lines.
QUIET_SCHEDULER = {"dashboard_address": "127.0.0.1:0"}


class Runner:
    """Runs per-item work and per-shard reductions (see the module notes)."""

    #: How many items run at once.
    parallel = 1

    def map(self, function: Callable[[Any], Any], items: Sequence[Any], *,
            done: Callable[[Any], None] | None = None) -> list[Any]:
        raise NotImplementedError

    def shards(self, shards: Sequence[Any]) -> ShardMap:
        raise NotImplementedError

    def close(self) -> None:
        """Stop what the runner started."""


class LocalRunner(Runner):
    """This machine: ``jobs`` processes for per-item work, ``jobs`` threads for shards.

    Examples
    --------
    >>> LocalRunner(1).map(abs, [-1, 2, -3])
    [1, 2, 3]
    """

    def __init__(self, jobs: int = 1) -> None:
        self.parallel = max(1, int(jobs))
        self._pool: ProcessPoolExecutor | None = None

    def map(self, function: Callable[[Any], Any], items: Sequence[Any], *,
            done: Callable[[Any], None] | None = None) -> list[Any]:
        if self.parallel == 1 or len(items) < 2:
            results = []
            for item in items:
                results.append(function(item))
                if done is not None:
                    done(results[-1])
            return results
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.parallel, mp_context=_context(),
                                             initializer=_one_thread)
        futures = [self._pool.submit(function, item) for item in items]
        return _collect(futures, done)

    def shards(self, shards: Sequence[Any]) -> ShardMap:
        held = list(shards)

        def run(function: Callable[..., Any], **arguments: Any) -> list[Any]:
            if self.parallel == 1 or len(held) < 2:
                return [function(shard, **arguments) for shard in held]
            with ThreadPoolExecutor(min(self.parallel, len(held))) as threads:
                return list(threads.map(lambda shard: function(shard, **arguments), held))

        return run

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class DaskRunner(Runner):
    """A Dask cluster: items and shard reductions are Dask tasks on its workers."""

    def __init__(self, client: Any, cluster: Any = None, config: Any = None) -> None:
        self.client, self._cluster, self._config = client, cluster, config
        self.parallel = max(1, sum(client.nthreads().values()))

    def map(self, function: Callable[[Any], Any], items: Sequence[Any], *,
            done: Callable[[Any], None] | None = None) -> list[Any]:
        from distributed import as_completed as dask_completed

        futures = self.client.map(function, list(items), pure=False)
        if done is not None:
            for future in dask_completed(futures, loop=self.client.loop):
                done(future.result())
        return list(self.client.gather(futures))

    def shards(self, shards: Sequence[Any]) -> ShardMap:
        handles = self.client.scatter(list(shards))

        def run(function: Callable[..., Any], **arguments: Any) -> list[Any]:
            futures = self.client.map(function, handles, pure=False, **arguments)
            return list(self.client.gather(futures))

        return run

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._config is not None:
            self._config.__exit__(None, None, None)


@contextmanager
def open_runner(*, jobs: int | None = None, workers: int | None = None,
                scheduler: str | None = None) -> Iterator[Runner]:
    """The runner the options ask for, closed on the way out.

    ``workers``: a local Dask cluster of that many worker processes; ``scheduler``: the
    Dask scheduler at that address; else a `LocalRunner` of ``jobs`` (default: the number
    of cores). Bad values and an unreachable scheduler raise `ParameterError`.

    Examples
    --------
    >>> with open_runner(jobs=1) as runner:
    ...     runner.map(len, ["ab", "c"])
    [2, 1]
    """
    runner = make_runner(jobs=jobs, workers=workers, scheduler=scheduler)
    try:
        yield runner
    finally:
        runner.close()


def make_runner(*, jobs: int | None = None, workers: int | None = None,
                scheduler: str | None = None,
                connect_seconds: float = CONNECT_SECONDS) -> Runner:
    """What `open_runner` yields (the caller closes it); a scheduler that does not answer
    within ``connect_seconds`` raises `ParameterError`."""
    if workers is not None and scheduler is not None:
        raise ParameterError("give --workers or --scheduler, not both")
    if jobs is not None and (workers is not None or scheduler is not None):
        raise ParameterError("--jobs is for this machine: give it, or --workers or "
                             "--scheduler, not both")
    if jobs is not None and not 1 <= jobs <= 256:
        raise ParameterError(f"--jobs {jobs} is out of range: use 1 to 256")
    if workers is not None and not 1 <= workers <= 256:
        raise ParameterError(f"--workers {workers} is out of range: use 1 to 256")
    if workers is None and scheduler is None:
        return LocalRunner(jobs if jobs is not None else os.cpu_count() or 1)
    try:
        import distributed
    except ImportError:
        flag = "--workers" if workers is not None else "--scheduler"
        raise ParameterError(f"{flag} runs on Dask, which is not installed: "
                             f"{DASK_HINT}") from None
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=connect_seconds,
                                        set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ParameterError(f"--scheduler {scheduler}: no Dask scheduler answers there "
                                 f"({_first_line(exc)}): start one with 'dask scheduler' "
                                 "and its workers with 'dask worker ADDRESS'") from None
        return DaskRunner(client)
    import dask

    config = dask.config.set(LOCAL_CLUSTER_CONFIG)  # undone when the runner closes
    try:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, dashboard_address=None,
                                           silence_logs=logging.ERROR,
                                           scheduler_kwargs=QUIET_SCHEDULER)
        client = distributed.Client(cluster, set_as_default=False)
    except BaseException:
        config.__exit__(None, None, None)
        raise
    return DaskRunner(client, cluster, config)


def _collect(futures: list[Future[Any]], done: Callable[[Any], None] | None) -> list[Any]:
    try:
        for future in as_completed(futures):
            if done is not None:
                done(future.result())
        return [future.result() for future in futures]
    finally:
        for future in futures:
            future.cancel()


def _context() -> multiprocessing.context.BaseContext:
    """Worker processes forked from a clean server process (not from this one, whose
    threads a fork would not carry over), with the package already imported."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["styletransfer.corpus", "styletransfer.batch"])
    return context


_LIMITS: list[object] = []


def _one_thread() -> None:
    """A pool process's numerical libraries on one thread each, and its blocks one at a
    time: the pool's ``jobs`` processes already fill the cores (as Dask's worker
    processes do)."""
    from threadpoolctl import threadpool_limits

    from .blocks import one_block_at_a_time

    _LIMITS.append(threadpool_limits(limits=1))
    one_block_at_a_time()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
