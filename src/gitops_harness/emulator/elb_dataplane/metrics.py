"""Target group metrics in CloudWatch (namespace AWS/ApplicationELB), as the ALB publishes them:
RequestCount, HTTPCode_Target_2XX..5XX_Count and TargetResponseTime (seconds) per LoadBalancer +
TargetGroup, HTTPCode_ELB_5XX_Count per LoadBalancer. Counted in memory, sent with PutMetricData about
once a second (and at stop) through the front door as the load balancer's account."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)
NAMESPACE = "AWS/ApplicationELB"


def load_balancer_dimension(arn: str) -> str:
    """app/<name>/<id>: the LoadBalancer dimension (the load balancer's FullName)."""
    return arn.split(":loadbalancer/", 1)[1]


def target_group_dimension(arn: str) -> str:
    """targetgroup/<name>/<id>: the TargetGroup dimension (the target group's FullName)."""
    return arn.rsplit(":", 1)[1]


@dataclass
class _Sample:
    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = 0.0

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)


class MetricsRecorder:
    def __init__(self, clients: Any, flush_seconds: float = 1.0):
        self._clients = clients
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        # (account, region, metric, dimensions) -> sample
        self._pending: dict[tuple[str, str, str, tuple[tuple[str, str], ...]], _Sample] = defaultdict(_Sample)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="elb-metrics", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)
        self.flush()

    def record(
        self,
        load_balancer_arn: str,
        target_group_arn: str | None,
        status: int,
        seconds: float | None,
        by_target: bool,
    ) -> None:
        parts = load_balancer_arn.split(":")
        account, region = parts[4], parts[3]
        balancer = ("LoadBalancer", load_balancer_dimension(load_balancer_arn))
        with self._lock:
            self._pending[(account, region, "RequestCount", (balancer,))].add(1)
            if (target_group_arn is None or not by_target) and status >= 500:
                self._pending[(account, region, "HTTPCode_ELB_5XX_Count", (balancer,))].add(1)
                self._pending[(account, region, f"HTTPCode_ELB_{status}_Count", (balancer,))].add(1)
            if target_group_arn is not None:
                dims = (balancer, ("TargetGroup", target_group_dimension(target_group_arn)))
                self._pending[(account, region, "RequestCount", dims)].add(1)
                if by_target:
                    self._pending[(account, region, f"HTTPCode_Target_{status // 100}XX_Count", dims)].add(1)
                    if seconds is not None:
                        self._pending[(account, region, "TargetResponseTime", dims)].add(seconds)

    def _run(self) -> None:
        while not self._stop.wait(self._flush_seconds):
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, defaultdict(_Sample)
        by_account: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        now = datetime.now(UTC)
        for (account, region, metric, dims), sample in pending.items():
            datum: dict[str, Any] = {
                "MetricName": metric,
                "Dimensions": [{"Name": n, "Value": v} for n, v in dims],
                "Timestamp": now,
            }
            if metric == "TargetResponseTime":
                datum["StatisticValues"] = {
                    "SampleCount": sample.count,
                    "Sum": sample.total,
                    "Minimum": sample.low,
                    "Maximum": sample.high,
                }
                datum["Unit"] = "Seconds"
            else:
                datum["Value"] = float(sample.total)
                datum["Unit"] = "Count"
            by_account[(account, region)].append(datum)
        for (account, region), data in by_account.items():
            cloudwatch = self._clients.for_account("cloudwatch", account, region)
            for first in range(0, len(data), 1000):
                try:
                    cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[first : first + 1000])
                except (BotoCoreError, ClientError) as exc:
                    log.warning("ALB metrics for %s/%s not sent: %s", account, region, exc)
