"""Helpers shared by the benchmarks under bench/ (kept free of application imports).

bench/recommend.py, bench/realtime.py and bench/coverage.py import them from here.
"""

from __future__ import annotations

import math
import signal
import socket
import sys
from collections.abc import Callable


class BenchError(RuntimeError):
    """Something the benchmark needs did not work (the measurement is void)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


def _sigterm(signum, frame):  # noqa: ARG001 - SIGTERM cleans up as Ctrl-C does (each run's finally)
    raise KeyboardInterrupt


def run_to_the_end(run: Callable[[], int], cleaned: str) -> int:
    """A benchmark's run, its exit status: 130 when interrupted (Ctrl-C or SIGTERM: ``cleaned`` says
    what its cleanup stopped and removed), 1 when the measurement is void (BenchError)."""
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return run()
    except KeyboardInterrupt:
        print(f"interrupted: {cleaned} stopped and removed", file=sys.stderr)
        return 130
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
