"""A small in-process cache with an expiry per entry, for indicator months that took seconds to count."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class ExpiringCache(Generic[T]):
    """Values by key; an entry lives as long as ``put`` says (expired entries are dropped on write)."""

    now: Callable[[], float] = time.monotonic
    _entries: dict[Hashable, tuple[float, T]] = field(default_factory=dict)  # key → (expiry, value)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or self.now() > hit[0]:
                self._entries.pop(key, None)
                return None
            return hit[1]

    def put(self, key: Hashable, value: T, seconds: float) -> None:
        with self._lock:
            now = self.now()
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            self._entries[key] = (now + seconds, value)
