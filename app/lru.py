"""A least-recently-used store within a budget, shared by the threads of a process:
the per-worker caches of the read API (answers, numberMatched) are made of it."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

MISSING = object()


class Lru:
    """At most `budget` in all, each value weighing `weight(value)` (1 by default);
    the least recently used go first. A budget of 0 keeps nothing."""

    def __init__(self, budget: int, weight: Callable[[Any], int] = lambda _value: 1) -> None:
        self.budget = budget
        self.weight = weight
        self.used = 0
        self.items: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Hashable, default: Any = MISSING) -> Any:
        with self.lock:
            if key not in self.items:
                return default
            self.items.move_to_end(key)
            return self.items[key]

    def put(self, key: Hashable, value: Any) -> None:
        weight = self.weight(value)
        if weight > self.budget:
            return
        with self.lock:
            if key in self.items:
                self.used -= self.weight(self.items.pop(key))
            self.items[key] = value
            self.used += weight
            while self.used > self.budget:
                _, old = self.items.popitem(last=False)
                self.used -= self.weight(old)
