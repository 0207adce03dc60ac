"""Sliding-window rate limits per key (client IP and purpose), in process memory.

One server process holds the limits; with several processes behind a balancer each enforces
its own share, which is the usual trade-off for a limiter that needs no extra service.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from fastapi import HTTPException, Request


class RateLimiter:
    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, window: float) -> float | None:
        """Record a hit; return seconds to wait if over ``limit`` within ``window``, else None."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                return max(1.0, hits[0] + window - now)
            hits.append(now)
            return None

    def count(self, key: str, window: float) -> int:
        now = time.monotonic()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - window:
                hits.popleft()
            return len(hits)

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


limiter = RateLimiter()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def enforce(request: Request, purpose: str, limit: int, window: float) -> None:
    """Raise 429 with a Chinese message when the client exceeds the limit."""
    wait = limiter.hit(f"{purpose}:{client_ip(request)}", limit, window)
    if wait is not None:
        raise HTTPException(
            status_code=429,
            detail=f"提交过于频繁，请在 {int(wait) + 1} 秒后再试。",
            headers={"Retry-After": str(int(wait) + 1)},
        )
