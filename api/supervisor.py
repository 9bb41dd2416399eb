"""The supervised child process of a job or a synchronous solve (see :mod:`allocator_api.worker`
for the design): :func:`supervise` runs a function in a *spawn*-context child under a memory
ceiling (``RLIMIT_AS``) and enforces its time in every phase, killing what overruns.

This module is what a child imports first, so it stays light: no database engine, no web app.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from allocator_api.errors import ApiError, ErrorDetail
from allocator_api.jobs import Handler, JobContext, PipeStore
from allocator_api.repository import ClaimedJob, ProgressValues

#: seconds between ``terminate()`` (SIGTERM) and ``kill()`` (SIGKILL) of an overrunning child
KILL_AFTER = 1.0
#: deaths that come from outside the child (the OOM killer, an operator): the job runs again
EXTERNAL_SIGNALS = (signal.SIGKILL, signal.SIGTERM)
#: seconds a child may take to start (its imports) before it is killed; then its time runs
STARTUP_SECONDS = 60.0
#: the name of the child processes (``multiprocessing.active_children()``)
CHILD_NAME = "allocator-job"
#: pieces of work a child runs before it exits (a new one takes its place): a bound on what
#: any leak in the library could accumulate
JOBS_PER_CHILD = 50
#: what a spare child imports before it waits for work: the job kinds and, through them, the
#: library and the solver
PRELOAD = ("allocator_api.job_kinds",)


@dataclass(frozen=True)
class ChildError:
    """Why a child's function raised, as plain data for the pipe.

    ``category``: ``memory`` (``MemoryError`` under the ceiling), ``api`` (an
    :class:`ApiError`, e.g. a plan the checker rejected: ``status``, ``code``, ``message``,
    ``details``), ``internal`` (anything else, with its ``trace``)."""

    category: str
    message: str
    status: int = 500
    code: str = "internal_error"
    details: tuple[ErrorDetail, ...] = ()
    trace: str = ""

    def as_api_error(self) -> ApiError:
        return ApiError(self.status, self.code, self.message, self.details)


#: what runs in a child: ``fn(pipe, stop, *args)``; its picklable return value is sent back
ChildFn = Callable[..., Any]


class _Current:
    """The stop event of the job a child is running (a child runs several, one at a time)."""

    def __init__(self) -> None:
        self.stop = threading.Event()


def _follow(parent_stop: ProcessEvent, current: _Current, server_pid: int) -> None:
    """The child's side of a stop: the supervisor's event sets the current job's stop; the
    server gone (killed: nobody is left to store a plan or to kill this process) ends the
    child."""
    while True:
        if parent_stop.wait(0.5):
            current.stop.set()
            time.sleep(0.2)  # until the supervisor clears it for the next job
        if os.getppid() != server_pid:
            os._exit(70)


def child_main(
    conn: Connection,
    parent_stop: ProcessEvent,
    server_pid: int,
    preload: tuple[str, ...],
    nice: int = 0,
) -> None:
    """The child process's entry. It lowers its CPU priority by ``nice`` (``os.nice``: the
    server's requests win the cores), imports ``preload`` (the solver: most of a child's
    start-up), then runs the work the pipe brings, one piece at a time:
    ``("run", memory_bytes, fn, args)``: the memory ceiling (lowered only), ``fn``, and its
    end (the value, or the error as a :class:`ChildError`) as the piece's last message. It
    exits after :data:`JOBS_PER_CHILD` pieces, after running out of memory, when the pipe
    closes (the supervisor discarded it) or when its server goes away (:func:`_follow`)."""
    # Ctrl-C in a terminal reaches the whole process group: the server's shutdown stops us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice > 0:
        os.nice(nice)
    current = _Current()
    threading.Thread(target=_follow, args=(parent_stop, current, server_pid), daemon=True).start()
    for name in preload:
        importlib.import_module(name)
    for _ in range(JOBS_PER_CHILD):
        try:
            work = conn.recv()
        except (EOFError, OSError):  # discarded (the server shuts down, or keeps fewer)
            return
        _, memory_bytes, fn, args = work
        if memory_bytes > 0:
            soft, hard = resource.getrlimit(resource.RLIMIT_AS)
            if soft == resource.RLIM_INFINITY or soft > memory_bytes:
                resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, hard))
        current.stop = stop = threading.Event()
        pipe = PipeStore(conn)
        with pipe.lock:
            conn.send(("ready",))
        message: tuple[Any, ...]
        try:
            message = ("returned", fn(pipe, stop, *args))
        except MemoryError:
            message = ("error", ChildError("memory", "out of memory"))
        except ApiError as exc:
            message = (
                "error",
                ChildError("api", exc.message, exc.status, exc.code, tuple(exc.details)),
            )
        except Exception as exc:
            message = ("error", ChildError("internal", repr(exc), trace=traceback.format_exc()))
        with pipe.lock:
            try:
                conn.send(message)
            except MemoryError:  # nothing left to say it with: the exit code tells
                os._exit(3)
        if message[0] == "error" and message[1].category == "memory":
            break  # its heap may be in pieces: a new process for the next job
    conn.close()


@dataclass(frozen=True)
class ChildEnd:
    """How a supervised child ended: ``returned`` (``value``), ``error`` (``error``),
    ``killed`` by the supervisor (``asked``: after a stop request, else it overran its time),
    or ``died`` on its own (``exitcode``: negative for a signal). ``seconds``: from the
    child's start-up done (or its start, when it never got there) to its end."""

    how: str
    value: Any = None
    error: ChildError | None = None
    exitcode: int | None = None
    asked: bool = False
    seconds: float = 0.0


def supervise(
    fn: ChildFn,
    args: tuple[Any, ...],
    *,
    time_limit: float,
    grace: float,
    memory_bytes: int,
    stop: threading.Event | None = None,
    answer: Callable[[tuple[Any, ...]], Any] | None = None,
    on_progress: Callable[[ProgressValues], None] | None = None,
) -> ChildEnd:
    """Run ``fn(pipe, stop, *args)`` in a spawned child under the memory ceiling and wait for
    it on this thread, enforcing the time in every phase of the child's work.

    The clock starts when the child is ready (its imports done: the service's start-up cost,
    at most :data:`STARTUP_SECONDS`, is not the job's). At ``time_limit`` (or when ``stop`` is
    set) the child's own stop event is set: the library stops and returns its best plan.
    ``grace`` seconds later (and at ``time_limit + grace`` at the latest) a child still running
    is terminated, then killed a second later. ``answer(message)`` answers the child's
    questions (plans to store, plans to read); ``on_progress`` gets its progress.
    """
    started = time.monotonic()
    child = SPARES.take()
    try:
        child.conn.send(("run", memory_bytes, fn, args))
    except OSError:  # the spare died between take() and now: a new child
        child.conn.close()
        child = SPARES.start()
        child.conn.send(("run", memory_bytes, fn, args))
    proc, ours, child_stop = child.proc, child.conn, child.stop
    hard = started + STARTUP_SECONDS
    ready: float | None = None
    stopped_at: float | None = None
    asked = False
    end: ChildEnd | None = None
    kept = False  # the child went back to SPARES for its next piece of work
    try:
        while True:
            now = time.monotonic()
            if stopped_at is None and (
                (stop is not None and stop.is_set())
                or (ready is not None and now >= ready + time_limit)
            ):
                asked = stop is not None and stop.is_set()
                stopped_at = now
                child_stop.set()
            kill_at = hard if stopped_at is None else min(hard, stopped_at + grace)
            if now >= kill_at:
                _stop_process(proc)
                end = ChildEnd("killed", asked=asked)
                break
            try:
                if not ours.poll(min(0.1, kill_at - now)):
                    continue
                message = ours.recv()
            except Exception:  # EOF, or a message cut short: the child is gone
                break
            kind = message[0]
            if kind == "ready":
                ready = time.monotonic()
                hard = ready + time_limit + grace
            elif kind == "progress":
                if on_progress is not None:
                    on_progress(message[1])
            elif kind == "returned":
                end = ChildEnd("returned", value=message[1])
                break  # the piece's last message (the child waits for the next, or exits)
            elif kind == "error":
                end = ChildEnd("error", error=message[1])
                break
            else:
                ours.send(answer(message) if answer is not None else None)
        reusable = (
            end is not None
            and end.how in ("returned", "error")
            and not (end.error is not None and end.error.category == "memory")
        )
        if reusable and proc.is_alive():
            child_stop.clear()
            SPARES.give_back(child)  # it waits for its next piece of work
            kept = True
        else:
            proc.join(KILL_AFTER)
            if proc.is_alive():  # it answered, then hung on its way out
                _stop_process(proc)
            if end is None:
                end = ChildEnd("died", exitcode=proc.exitcode)
    finally:
        if not kept:
            if proc.is_alive():  # an exception in this thread: never leave the child behind
                _stop_process(proc)
            ours.close()
            SPARES.lost()
    assert end is not None
    return ChildEnd(
        end.how,
        end.value,
        end.error,
        end.exitcode,
        end.asked,
        time.monotonic() - (started if ready is None else ready),
    )


@dataclass(frozen=True)
class Child:
    """A started child process, its end of the pipe and its stop event."""

    proc: BaseProcess
    conn: Connection
    stop: ProcessEvent


class Spares:
    """Children kept ready for work, so a job or a synchronous solve does not wait for a new
    process's imports (seconds of CPU under load: the load benchmark's reads and writes waited
    behind them when every job started its own process).

    A child that ends its piece of work cleanly is given back and runs the next one (up to
    :data:`JOBS_PER_CHILD`); one that was killed, died or ran out of memory is replaced at
    once. At most ``keep`` children exist, busy or idle (the service sets it to its solve slots,
    :meth:`fill`), each an ordinary spawn-context process costing the memory of an idle Python
    with the solver imported (~150 MB); nothing at all until :meth:`fill`. A child still runs
    under its own memory ceiling and is killed like a new one when it overruns: reuse changes
    where the imports are paid, not what is enforced."""

    def __init__(self, preload: tuple[str, ...] = PRELOAD) -> None:
        self.preload = preload
        self.keep = 0
        #: niceness of the children started from now on (``Settings.job_nice``, set by
        #: :meth:`fill`)
        self.nice = 0
        self._idle: list[Child] = []
        self._busy = 0
        self._lock = threading.Lock()

    def start(self) -> Child:
        """A new child."""
        mp = multiprocessing.get_context("spawn")
        ours, theirs = mp.Pipe()
        child_stop = mp.Event()
        proc = mp.Process(
            target=child_main,
            args=(theirs, child_stop, os.getpid(), self.preload, self.nice),
            name=CHILD_NAME,
            daemon=True,
        )
        proc.start()
        theirs.close()
        return Child(proc, ours, child_stop)

    def _top_up(self) -> None:  # under the lock
        while len(self._idle) + self._busy < self.keep:
            self._idle.append(self.start())

    def fill(self, keep: int, nice: int | None = None) -> None:
        """Keep ``keep`` children from now on (started at niceness ``nice``, when given)."""
        with self._lock:
            self.keep = keep
            if nice is not None:
                self.nice = nice
            self._top_up()

    def take(self) -> Child:
        """A child ready for work: an idle one that is alive, else a new one."""
        with self._lock:
            child: Child | None = None
            while self._idle and child is None:
                candidate = self._idle.pop(0)
                if candidate.proc.is_alive():
                    child = candidate
                else:
                    candidate.conn.close()
            self._busy += 1
        return child if child is not None else self.start()

    def give_back(self, child: Child) -> None:
        """A child that finished its work cleanly: it waits for the next piece of work (it has
        done its imports), unless ``keep`` are idle already."""
        with self._lock:
            self._busy = max(0, self._busy - 1)
            if len(self._idle) < self.keep:
                self._idle.insert(0, child)
                return
        _discard(child)

    def lost(self) -> None:
        """A taken child is gone (killed, died, out of memory): another starts in its place."""
        with self._lock:
            self._busy = max(0, self._busy - 1)
            self._top_up()

    def idle(self) -> list[BaseProcess]:
        with self._lock:
            return [c.proc for c in self._idle]

    def discard(self) -> None:
        """Stop every idle child and keep none (the service's shutdown)."""
        with self._lock:
            idle, self._idle, self.keep = self._idle, [], 0
        for child in idle:
            _discard(child)


def _discard(child: Child) -> None:
    child.conn.close()  # the child's recv ends: it returns
    child.proc.join(KILL_AFTER)
    if child.proc.is_alive():
        _stop_process(child.proc)


#: the process's spares (the job runner fills it; ``POST /v1/solve`` takes from it too)
SPARES = Spares()


def _stop_process(proc: BaseProcess) -> None:
    proc.terminate()
    proc.join(KILL_AFTER)
    if proc.is_alive():
        proc.kill()
        proc.join(KILL_AFTER)


def run_job_child(
    pipe: PipeStore, stop: threading.Event, handler: Handler, job: ClaimedJob
) -> None:
    """A job's handler in its child process (see :func:`supervise`)."""
    ctx = JobContext(job, pipe, stop=stop, on_record=pipe.send_progress)
    handler(job, ctx)


def died_how(exitcode: int | None) -> str:
    if exitcode is None:
        return "it did not report an exit code"
    if exitcode < 0:
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
