"""A bounded, thread-safe log of records (dicts) that tests and humans read, with a wait on it.

The front door's request log, EventBridge's deliveries and CodeStar Notifications' sends are all this:

    self.deliveries = RecordLog("CodeStar notification delivery", maxlen=1000)
    self.deliveries.append({"rule": ..., "outcome": "delivered"})
    self.deliveries.wait_for(lambda r: r["outcome"] == "delivered", timeout=5)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

Record = dict[str, Any]


class RecordLog:
    def __init__(self, what: str, maxlen: int = 1000):
        """`what` names one record in timeout messages ("EventBridge delivery")."""
        self.what = what
        self._records: deque[Record] = deque(maxlen=maxlen)
        self._cond = threading.Condition()

    def append(self, record: Record) -> None:
        with self._cond:
            self._records.append(record)
            self._cond.notify_all()

    def records(self) -> list[Record]:
        """The records kept, oldest first (a copy)."""
        with self._cond:
            return list(self._records)

    def __len__(self) -> int:
        with self._cond:
            return len(self._records)

    def clear(self) -> None:
        with self._cond:
            self._records.clear()

    def wait_for(
        self, predicate: Callable[[Record], bool], timeout: float, expected: str | None = None
    ) -> Record:
        """The first kept record matching `predicate`, waiting up to `timeout` seconds for one.

        Raises TimeoutError saying what was expected (`expected`, else the predicate's name) and the last
        records seen."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for record in self._records:
                    if predicate(record):
                        return record
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    wanted = expected or getattr(predicate, "__name__", "a matching record")
                    raise TimeoutError(
                        f"no {self.what} matching {wanted} within {timeout}s; "
                        f"last seen: {list(self._records)[-5:]}"
                    )
                self._cond.wait(remaining)
