"""LNS sub-solves on the workers of a Dask cluster (``SolveParams.dask_address``).

The instance travels once: pickled here (:func:`dumps_instance`; its portfolio holds read-only
``mappingproxy`` maps, which plain pickle refuses, so they are reduced to dicts and rebuilt) and
scattered to every worker (``broadcast=True``). Each job then carries only the neighbourhood
(:class:`solver_models.lns.Job`: free tasks, people, the schedule to re-plan against) and returns
a :class:`solver_models.lns.Part`. A worker unpickles the instance on its first job and keeps it
(:data:`_CACHE`, by token), so later jobs pay nothing for it.

A worker that dies loses only its running job: Dask runs it again on another worker (or the
driver gives up on it when the loop's time is over); the incumbent lives in the driver and is
never at risk.
"""

from __future__ import annotations

import copyreg
import io
import logging
import pickle
import threading
import time
import types
import uuid
from collections import OrderedDict
from typing import Any

from solver_models.instance import Instance
from solver_models.lns import Job, Part, solve_neighbourhood

log = logging.getLogger(__name__)

#: instances unpickled on this (worker) process, by token; the last few only
_CACHE: OrderedDict[str, Instance] = OrderedDict()
_CACHE_SIZE = 2
_LOCK = threading.Lock()
#: seconds between looks at running jobs
POLL = 0.02


def _mappingproxy(d: dict[Any, Any]) -> types.MappingProxyType[Any, Any]:
    return types.MappingProxyType(d)


def _reduce_mappingproxy(m: types.MappingProxyType[Any, Any]) -> tuple[Any, tuple[Any, ...]]:
    return _mappingproxy, (dict(m),)


def dumps_instance(inst: Instance) -> bytes:
    """The instance as pickle bytes (read-only maps included)."""
    buf = io.BytesIO()
    pickler = pickle.Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL)
    table: dict[type, Any] = dict(copyreg.dispatch_table)
    table[types.MappingProxyType] = _reduce_mappingproxy
    pickler.dispatch_table = table
    pickler.dump(inst)
    return buf.getvalue()


def _instance(token: str, blob: bytes) -> Instance:
    with _LOCK:
        inst = _CACHE.get(token)
        if inst is None:
            inst = pickle.loads(blob)
            assert isinstance(inst, Instance)
            _CACHE[token] = inst
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        else:
            _CACHE.move_to_end(token)
        return inst


def run_job(token: str, blob: bytes, job: Job) -> Part:
    """The task a Dask worker runs: one sub-solve on the (cached) instance."""
    return solve_neighbourhood(_instance(token, blob), job)


class DaskRunner:
    """Runs :class:`Job` s on a Dask cluster (the ``Runner`` of :func:`solver_models.lns.improve`).

    ``address``: a scheduler to connect to within ``timeout`` seconds (the client is closed again
    by :meth:`close`); or ``client``: an existing ``distributed.Client`` (left open).
    """

    def __init__(
        self,
        inst: Instance,
        *,
        address: str | None = None,
        client: Any = None,
        timeout: float = 10.0,
    ) -> None:
        from distributed import Client

        self._own = client is None
        if client is None:
            client = Client(  # type: ignore[no-untyped-call]
                address, set_as_default=False, timeout=timeout
            )
        self.client: Any = client
        self.token = f"lns-instance-{uuid.uuid4().hex}"
        blob = dumps_instance(inst)
        self.blob = self.client.scatter(blob, broadcast=True, hash=False)
        threads = self.client.nthreads()
        self.slots = max(1, sum(threads.values()))
        log.info(
            "lns on dask: %d workers, %d slots, instance %.1f MB",
            len(threads),
            self.slots,
            len(blob) / 1e6,
        )
        self.pending: set[Any] = set()

    def submit(self, job: Job) -> object:
        fut = self.client.submit(run_job, self.token, self.blob, job, pure=False, retries=1)
        self.pending.add(fut)
        return fut

    def wait(self, timeout: float) -> list[tuple[object, Part | BaseException]]:
        # polled: ``distributed.wait`` needs the default client, and this one is not (a
        # caller's own client must not be changed)
        deadline = time.monotonic() + timeout
        while self.pending and not any(f.done() for f in self.pending):
            if time.monotonic() >= deadline:
                return []
            time.sleep(POLL)
        out: list[tuple[object, Part | BaseException]] = []
        for fut in [f for f in self.pending if f.done()]:
            self.pending.discard(fut)
            try:
                res = fut.result()
            except Exception as exc:
                out.append((fut, exc))
                continue
            out.append((fut, res if isinstance(res, Part) else TypeError(repr(res))))
        return out

    def close(self) -> None:
        try:
            if self.pending:
                self.client.cancel(list(self.pending))
            self.pending.clear()
            self.client.cancel([self.blob])
        except Exception:
            log.warning("lns on dask: cleanup failed", exc_info=True)
        if self._own:
            try:
                self.client.close()
            except Exception:
                log.warning("lns on dask: could not close the client", exc_info=True)
