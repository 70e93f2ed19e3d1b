"""What the bridge counts in the process itself, for the `/metrics` listener (bridge/health.py).

The metrics are registered in no registry here, not even prometheus-client's global one: the
listener puts them in a registry of its own beside what it reads from the database at each
scrape, so nothing else (a library's default metrics, a test's) mixes in. Counts are this
process's since it started, as Prometheus expects of counters.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RATE_LIMIT_WAITS = Counter(
    "ccin_bridge_rate_limit_waits",
    "Sends a platform asked the delivery lanes to retry later (HTTP 429 retry_after, or "
    "briefly unavailable), by platform",
    ["platform"],
    registry=None,
)

SEARCH_SECONDS = Histogram(
    "ccin_bridge_search_seconds",
    "Time the /search command spent in the store's search",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=None,
)

IN_PROCESS = (RATE_LIMIT_WAITS, SEARCH_SECONDS)
