"""One writer at a time on the embedded index, across threads and processes.

The server's worker threads, a separate ``minsheng worker`` and ``minsheng reindex`` may all
write. Each write takes this lock (a thread lock, then ``flock`` on a lock file), so writers queue
instead of failing on Tantivy's own writer lock. The OS releases an ``flock`` when its process
dies, so a crashed writer never leaves the index locked.
"""
from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_thread_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _thread_lock(path: Path) -> threading.Lock:
    with _guard:
        return _thread_locks.setdefault(str(path), threading.Lock())


class LockTimeout(TimeoutError):
    pass


@contextmanager
def exclusive(path: Path, timeout: float = 60.0, poll: float = 0.01) -> Iterator[None]:
    """Hold the lock file ``path`` exclusively; raise ``LockTimeout`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    tlock = _thread_lock(path)
    if not tlock.acquire(timeout=timeout):
        raise LockTimeout(f"index write lock {path} busy for {timeout:.0f}s (this process)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise LockTimeout(f"index write lock {path} busy for {timeout:.0f}s (another process)") from None
                    time.sleep(poll)
                    poll = min(poll * 2, 0.2)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        tlock.release()
