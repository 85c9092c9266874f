"""Helpers shared by the benchmarks under bench/ (kept free of application imports).

bench/recommend.py and bench/realtime.py import them from here.
"""

from __future__ import annotations

import math
import socket


class BenchError(RuntimeError):
    """Something the benchmark needs did not work (the measurement is void)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]
