"""Prometheus metrics, in a registry of the app's own (so that tests can make many apps).

``/metrics`` shows the process's request latencies and solve times (no tenant, no id) and the
jobs by state of the caller's tenant; the operator's tenant (``Settings.operator_tenant``) sees
every tenant's jobs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from allocator_api.models import JOB_STATES
from allocator_api.repository import JobStore, job_counts

log = logging.getLogger(__name__)


class _JobsByState(Collector):
    """``allocator_jobs{state}``: jobs in the database by state (of one tenant, or of every
    tenant when ``tenant`` is None), read at scrape time."""

    def __init__(self, store: JobStore, tenant: str | None) -> None:
        self.store = store
        self.tenant = tenant

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "allocator_jobs", "Solve jobs in the database, by state", labels=["state"]
        )

    def describe(self) -> Iterator[Metric]:
        yield self._family()  # no database query when the collector is registered

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        try:
            with self.store.sessions() as session:
                counts = job_counts(session, self.tenant)
        except Exception:
            log.warning("could not count jobs for /metrics", exc_info=True)
            return
        for state in JOB_STATES:
            family.add_metric([state], counts.get(state, 0))
        yield family


class Metrics:
    CONTENT_TYPE = CONTENT_TYPE_LATEST

    def __init__(self, store: JobStore) -> None:
        self.store = store
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "allocator_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.solve_seconds = Histogram(
            "allocator_solve_duration_seconds",
            "Wall time of solve jobs, by outcome",
            ["outcome"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )

    def render(self, tenant: str | None) -> bytes:
        """The process's metrics, and the jobs of ``tenant`` (None: of every tenant)."""
        jobs = CollectorRegistry(auto_describe=False)
        jobs.register(_JobsByState(self.store, tenant))
        return generate_latest(self.registry) + generate_latest(jobs)
