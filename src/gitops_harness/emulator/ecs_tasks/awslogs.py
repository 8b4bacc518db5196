"""The awslogs log driver: a container's output lines as CloudWatch Logs events, in the stream ECS names
`<awslogs-stream-prefix>/<container name>/<task id>` (just the task id without a prefix)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from botocore.exceptions import ClientError

from gitops_harness.emulator.ecs_tasks.runtime import TaskFailure

log = logging.getLogger(__name__)
_BATCH = 500
_FLUSH_SECONDS = 0.2


class AwsLogsStream:
    """Ships lines to one log stream from a background thread; `write` never blocks the task's output."""

    def __init__(self, logs: Any, group: str, stream: str):
        self._logs = logs
        self.group = group
        self.stream = stream
        self._lines: queue.Queue[tuple[int, str] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._ship, name=f"awslogs-{stream}", daemon=True)

    @classmethod
    def open(cls, logs: Any, options: dict[str, str], container: str, task_id: str) -> AwsLogsStream:
        group = options.get("awslogs-group")
        if not group:
            raise TaskFailure(
                "ResourceInitializationError: failed to validate logger args: awslogs-group is required"
            )
        prefix = options.get("awslogs-stream-prefix")
        stream = f"{prefix}/{container}/{task_id}" if prefix else task_id
        try:
            if options.get("awslogs-create-group") == "true":
                try:
                    logs.create_log_group(logGroupName=group)
                except ClientError as exc:
                    if exc.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                        raise
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        except ClientError as exc:
            raise TaskFailure(
                "ResourceInitializationError: failed to validate logger args: create stream has been retried "
                f"1 times: failed to create Cloudwatch log stream: {exc.response['Error']['Code']}: "
                f"{exc.response['Error']['Message']}"
            ) from None
        shipper = cls(logs, group, stream)
        shipper._thread.start()
        return shipper

    def write(self, line: str) -> None:
        self._lines.put((int(time.time() * 1000), line))

    def close(self) -> None:
        self._lines.put(None)
        self._thread.join(5)

    def _ship(self) -> None:
        done = False
        while not done:
            batch: list[dict[str, Any]] = []
            item = self._lines.get()
            while True:
                if item is None:
                    done = True
                    break
                batch.append({"timestamp": item[0], "message": item[1] or " "})
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._lines.get(timeout=_FLUSH_SECONDS if len(batch) < 2 else 0.01)
                except queue.Empty:
                    break
            if batch:
                try:
                    self._logs.put_log_events(
                        logGroupName=self.group, logStreamName=self.stream, logEvents=batch
                    )
                except ClientError as exc:  # a group deleted under a running task: the task keeps running
                    log.warning("awslogs %s/%s: %s", self.group, self.stream, exc)
