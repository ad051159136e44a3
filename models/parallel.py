"""Monte Carlo work across processes: one helper, :func:`map_chunks`, for every stage.

A stage that is vectorised over paths (the demography's draws and projection, the pension
accounts, the economy's first-order prices) is cut into chunks of paths; ``fn(shared, chunk)``
computes one chunk and returns plain arrays. ``workers = 1`` runs the chunks one after the other
in the calling process (no pool, no pickling: exactly the serial code). ``workers > 1`` runs them
in a pool of that many processes and hands the results back **in chunk order**.

Identical numbers, whatever the number of workers
    The chunks are made by the caller from the experiment alone (its ``paths`` and
    ``chunk_size``), never from ``workers``, and every chunk runs the same code on the same
    inputs with its own random streams (one ``SeedSequence`` child per purpose and path), so
    the results are the serial ones bit for bit: the worker count only decides *where* a chunk
    runs. More workers than chunks leaves the extra workers idle: for parallel speed choose
    ``chunk_size`` at most ``paths / workers``.

Processes
    Workers are forked from multiprocessing's *forkserver*: a fresh, single-threaded
    interpreter started once per parent process, which imports the Monte Carlo modules
    (:data:`PRELOAD`) and the module of ``fn`` once (``models`` does no I/O at import; about
    5 s), so later pools start in milliseconds.
    Never forking the parent itself is safe when the parent holds threads (a progress bar's
    monitor, a solver's thread pool) or runs under ``mpiexec`` (forking an MPI process is
    unsafe). Where there is no forkserver (Windows) the pool uses ``spawn``. A worker receives
    ``shared`` and its chunk by pickling: workers never read files. The preload takes effect
    when the server starts (the first pool of the process); a module it did not preload is
    imported by each worker when it unpickles its task. Each process is started with
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``,
    ``VECLIB_MAXIMUM_THREADS`` and ``NUMEXPR_NUM_THREADS`` set to 1 unless the user set them
    (the forkserver, started by the first pool, passes them on): ``workers`` processes then use
    ``workers`` cores rather than ``workers × cores`` threads. At most ``2 × workers`` chunks
    are in flight, so memory is bounded by a few chunks' results whatever the number of chunks.

Under ``mpiexec`` the ranks already share the machine's cores: keep ``workers = 1`` there.

Across machines
    :func:`map_chunks_mpi` deals the chunks over the ranks of an MPI communicator (mpi4py,
    started by ``mpiexec``): rank ``r`` computes chunks ``r, r + R, …`` (through
    :func:`map_chunks` on its own ``workers``), and every rank gets every result back in chunk
    order (one ``allgather``), so the numbers are the serial ones whatever the rank count.
    mpi4py is optional: the communicator is passed in, never imported here.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

__all__ = ["PRELOAD", "THREAD_VARIABLES", "WorkerPool", "map_chunks", "map_chunks_mpi",
           "path_chunks"]

S = TypeVar("S")
C = TypeVar("C")
R = TypeVar("R")

#: Environment variables that cap the threads of BLAS / OpenMP libraries in a worker.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Modules the forkserver imports once (the Monte Carlo stages' chunk functions live there).
PRELOAD = ("numpy", "xarray", "models.demography.stochastic", "models.pipeline.monte_carlo")
#: Chunks submitted ahead of the one being collected, per worker.
IN_FLIGHT_PER_WORKER = 2


def path_chunks(n_paths: int, chunk_size: int) -> list[np.ndarray]:
    """Path numbers ``0 .. n_paths-1`` cut into consecutive chunks of ``chunk_size`` (the last
    one shorter): ``[array([0, .., chunk_size-1]), ...]``. Empty for ``n_paths = 0``."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return [np.arange(lo, min(lo + chunk_size, n_paths)) for lo in range(0, n_paths, chunk_size)]


@contextmanager
def _single_threaded_children():
    """Set the thread-cap variables to 1 (where unset) while worker processes are started;
    they read them at start-up. The parent's own libraries are loaded already and keep their
    thread counts."""
    added = [name for name in THREAD_VARIABLES if name not in os.environ]
    for name in added:
        os.environ[name] = "1"
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def map_chunks(fn: Callable[[S, C], R], chunks: Iterable[C], workers: int = 1,
               shared: S = None, pool: WorkerPool | None = None) -> Iterator[R]:
    """``fn(shared, chunk)`` for every chunk, results yielded in the chunks' order.

    Parameters
    ----------
    fn : a module-level function (picklable) ``(shared, chunk) -> result``; pure: its result
        depends on its arguments only.
    chunks : the work items, typically arrays of path numbers (:func:`path_chunks`).
    workers : 1 runs every chunk in this process, lazily, one at a time; ``n > 1`` runs them
        in ``n`` spawned processes (see the module docstring), ``2 n`` chunks in flight.
    shared : inputs common to every chunk (arrays, settings), sent to a worker with each chunk.
    pool : a :class:`WorkerPool` of ``workers`` processes kept across calls (None: a pool
        started and shut down by this call).

    An exception in ``fn`` is raised here, at its chunk, and the pool is shut down.
    """
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if workers == 1:
        for chunk in chunks:
            yield fn(shared, chunk)
        return
    if pool is not None and pool.executor is not None:
        yield from _map_in_pool(fn, iter(chunks), int(workers), shared, pool.executor)
        return
    with WorkerPool(int(workers), fn) as own:
        yield from _map_in_pool(fn, iter(chunks), int(workers), shared, own.executor)


class WorkerPool:
    """``workers`` processes kept for several :func:`map_chunks` calls (an iterative method
    maps its chunks once per iteration: measured, a new pool cost about 0.16 s a call on
    this 2-core machine, a kept one 4 ms). A context manager: the processes are shut down on
    leaving it. ``workers = 1``: no processes (``executor`` None)."""

    def __init__(self, workers: int, fn: Callable | None = None):
        self.workers, self.fn = int(workers), fn
        self.executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> WorkerPool:
        if self.workers > 1:
            self.executor = ProcessPoolExecutor(max_workers=self.workers,
                                                mp_context=_context(self.fn),
                                                initializer=_ignore_interrupts)
        return self

    def __exit__(self, *exc) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def map_chunks_mpi(fn: Callable[[S, C], R], chunks: list[C], comm, workers: int = 1,
                   shared: S = None, pool: WorkerPool | None = None) -> list[R]:
    """``fn(shared, chunk)`` for every chunk, dealt over the ranks of ``comm`` (an mpi4py
    communicator; every rank calls this with the same chunks): rank ``r`` computes chunks
    ``r, r + size, …`` and every rank returns all the results in chunk order."""
    rank, size = comm.Get_rank(), comm.Get_size()
    mine = list(map_chunks(fn, chunks[rank::size], workers, shared, pool))
    out: list = [None] * len(chunks)
    for r, results in enumerate(comm.allgather(mine)):
        out[r::size] = results
    return out


def _map_in_pool(fn: Callable[[S, C], R], chunks: Iterator[C], workers: int,
                 shared: S, pool: ProcessPoolExecutor) -> Iterator[R]:
    window = IN_FLIGHT_PER_WORKER * workers
    pending: deque[Future] = deque()
    try:
        def submit_next() -> bool:
            chunk = next(chunks, _DONE)
            if chunk is _DONE:
                return False
            with _single_threaded_children():  # processes start inside submit
                pending.append(pool.submit(fn, shared, chunk))
            return True

        while len(pending) < window and submit_next():
            pass
        while pending:
            result = pending.popleft().result()
            submit_next()
            yield result
    finally:
        for future in pending:
            future.cancel()


_DONE: Any = object()


def _ignore_interrupts() -> None:
    """Workers ignore Ctrl-C (the terminal sends SIGINT to the whole process group): the parent
    alone stops, with one line, and shuts the pool down; no worker prints a traceback."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context(fn: Callable | None) -> multiprocessing.context.BaseContext:
    """The forkserver context, preloading :data:`PRELOAD` and ``fn``'s module (no effect
    once the server runs); ``spawn`` where there is no forkserver."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    module = getattr(fn, "__module__", None)
    ctx.set_forkserver_preload(list(PRELOAD) + ([module] if module else []))
    return ctx
