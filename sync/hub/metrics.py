"""What the hub counts for Prometheus (`/metrics`), and who may read it.

    county_requests_total{route, status}   every request, by route (a fixed set) and status
    county_changes_accepted_total          changes pushed and stored (or a resend's receipt)
    county_changes_refused_total           changes pushed and refused, with a reason
    county_changes_sent_total              changes sent to stations in pull pages
    county_push_seconds, county_pull_seconds, county_round_seconds   latency histograms of
                                           the sync calls (a round: POST /v1/sync)
    county_stations_enrolled               stations not revoked (read from the database)
    county_stations_seen{within}           of those, seen within 1 h and 24 h (their last pull)
    county_database_up                     0 when the database did not answer the scrape

Several worker processes (`workers` > 1): `county serve` gives them one directory for
prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR), and any worker then answers
with the sums over all of them. The station counts come from the database, so they are the
county's whichever worker answers. With one worker the counts live in its memory. Either way
they start at zero when the hub starts (Prometheus's counters are made for that).

Only a client on loopback, or one that sends the config's `metrics_token` as a bearer token,
may read it: the figures say how many stations a county has and when they call.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a push of one batch on the 2-core machine takes 20–500 ms, a 500-station surge
# stretched it to 30 s (docs/BENCHMARKS.md): buckets that tell those apart.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# The windows of county_stations_seen, label -> seconds.
SEEN_WITHIN = {"1h": 3600, "24h": 86_400}
# The routes a request is counted under: the sync API by its path, the dashboard as one (its
# paths name records and stations: not labels to keep).
API_ROUTES = ("/v1/sync", "/v1/push", "/v1/pull", "/v1/schema", "/v1/enroll", "/v1/health", "/v1/files",
              "/v1/attachments", "/v1/estimate", "/v1/probe", "/metrics")


def route_of(path: str) -> str:
    """The label a request's path is counted under (a fixed, small set)."""
    for route in API_ROUTES:
        if path == route or path.startswith(route + "/"):
            return route
    return "/v1/other" if path.startswith("/v1/") else "dashboard"


def from_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def may_read(host: str | None, authorization: str | None, token: str | None) -> bool:
    """Loopback always; anyone else with `Authorization: Bearer TOKEN` when a token is set."""
    if from_loopback(host):
        return True
    if token is None or authorization is None:
        return False
    scheme, _, given = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@dataclass(frozen=True)
class StationCounts:
    enrolled: int
    seen: Mapping[str, int]  # SEEN_WITHIN label -> stations


class _Stations(Collector):
    """The station gauges, read from the database at each scrape."""

    def __init__(self, counts: Callable[[], StationCounts]) -> None:
        self.counts = counts

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("county_database_up", "1 when the database answered this scrape")
        try:
            counts = self.counts()
        except Exception:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        enrolled = GaugeMetricFamily("county_stations_enrolled", "Stations enrolled and not revoked")
        enrolled.add_metric([], counts.enrolled)
        seen = GaugeMetricFamily("county_stations_seen", "Stations whose last pull is this recent",
                                 labels=["within"])
        for label, n in counts.seen.items():
            seen.add_metric([label], n)
        yield enrolled
        yield seen


class Metrics:
    """The hub's counters and histograms (one set per app), and their exposition."""

    def __init__(self, station_counts: Callable[[], StationCounts],
                 environ: Mapping[str, str] = os.environ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("county_requests", "Requests, by route and status",
                                ["route", "status"], registry=self.registry)
        self.accepted = Counter("county_changes_accepted", "Changes pushed and stored",
                                registry=self.registry)
        self.refused = Counter("county_changes_refused", "Changes pushed and refused",
                               registry=self.registry)
        self.sent = Counter("county_changes_sent", "Changes sent in pull pages", registry=self.registry)
        self.push_seconds = Histogram("county_push_seconds", "Latency of a push call",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.pull_seconds = Histogram("county_pull_seconds", "Latency of a pull call",
                                      buckets=LATENCY_BUCKETS, registry=self.registry)
        self.round_seconds = Histogram("county_round_seconds", "Latency of a round's first call",
                                       buckets=LATENCY_BUCKETS, registry=self.registry)
        shared = environ.get(MULTIPROCESS_ENV)
        if shared:
            # The values are in the workers' files: read all of them, not this registry.
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, path=shared)
        else:
            self.exposed = self.registry
        self.exposed.register(_Stations(station_counts))

    def text(self) -> bytes:
        return generate_latest(self.exposed)
