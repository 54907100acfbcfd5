"""What the bench scripts share about the servers they start and load."""

from __future__ import annotations

import time
import urllib.request


def wait_ready(url: str, tries: int = 200) -> None:
    """Until `url` answers 200 (every 0.1 s, `tries` times); else the bench stops."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - our own server
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"the server at {url} did not start")


def wrk_ms(value: str, unit: str) -> float:
    """A latency wrk printed (value, unit) in milliseconds."""
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
