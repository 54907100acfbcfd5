"""Settings of the long-lived worker processes themselves (not of Django)."""

from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    """Fit the cyclic garbage collector to a worker that allocates in bulk.

    With the default thresholds (700, 10, 10) the collector walked Django's and the
    apps' hundreds of thousands of objects again and again: ~30% of the tracking
    ingestor's CPU, ~5% of the mail worker's (bench/RESULTS.md). Those objects are
    never garbage: `freeze` moves everything loaded so far out of its reach, and the
    higher thresholds collect every ~50,000 allocations. Call it once, after start-up.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
