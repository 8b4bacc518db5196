"""One invocation's log as Lambda writes it (START, the function's output, END, REPORT), stored in
CloudWatch Logs group /aws/lambda/<name>, stream YYYY/MM/DD/[<version>]<32 hex>.

The lines go straight into moto's Logs backend of the function's account and region: it is the Lambda
service that writes them, not a caller with credentials, and a request per invocation would only add
noise to the front door's request log.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

# moto's Logs backend is not thread-safe: two first invocations creating the group at once would lose one
_STORE_LOCK = threading.Lock()


def log_stream_name(version: str, now: datetime | None = None) -> str:
    day = (now or datetime.now(UTC)).strftime("%Y/%m/%d")
    return f"{day}/[{version}]{uuid.uuid4().hex}"


@dataclass
class InvocationLog:
    request_id: str
    version: str
    lines: list[tuple[int, str]] = field(default_factory=list)  # (epoch ms, text)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, text: str, at_ms: int | None = None) -> None:
        with self._lock:
            self.lines.append((at_ms if at_ms is not None else _now_ms(), text))

    def start(self) -> None:
        self.add(f"START RequestId: {self.request_id} Version: {self.version}")

    def finish(
        self, duration_ms: float, memory_mb: int, max_memory_mb: int | None, init_ms: float | None
    ) -> None:
        self.add(f"END RequestId: {self.request_id}")
        report = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {duration_ms:.2f} ms",
            f"Billed Duration: {max(1, math.ceil(duration_ms))} ms",
            f"Memory Size: {memory_mb} MB",
            f"Max Memory Used: {max_memory_mb if max_memory_mb is not None else memory_mb} MB",
        ]
        if init_ms is not None:
            report.append(f"Init Duration: {init_ms:.2f} ms")
        self.add("\t".join(report) + "\t")

    def text(self) -> str:
        with self._lock:
            return "\n".join(text for _, text in self.lines) + "\n"

    def tail(self, limit: int = 4096) -> bytes:
        """The last `limit` bytes, what Invoke returns base64-encoded with LogType=Tail."""
        return self.text().encode("utf-8")[-limit:]

    def store(self, account: str, region: str, group: str, stream: str) -> None:
        from moto.logs.models import logs_backends

        with self._lock:
            events = [
                {"timestamp": at, "message": text}
                for at, text in sorted(self.lines, key=lambda line: line[0])
            ]
        with _STORE_LOCK:
            backend = logs_backends[account][region]
            backend.ensure_log_group(group)
            backend.ensure_log_stream(group, stream)
            if events:
                backend.put_log_events(group, stream, events)


def _now_ms() -> int:
    return int(time.time() * 1000)
