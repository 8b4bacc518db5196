"""The metrics AWS services publish about themselves (AWS/Events, AWS/ApplicationELB, ...), put straight into
moto's CloudWatch store of the resource's account.

A service's own metrics are not a customer's PutMetricData call (AWS refuses `AWS/` namespaces from
customers), so they do not go through the front door and do not show in its request log. Timestamps are
left to moto (it stores naive UTC and compares with it).
"""

from __future__ import annotations

from collections.abc import Mapping


def publish(
    account_id: str,
    region: str,
    namespace: str,
    name: str,
    value: float,
    dimensions: Mapping[str, str],
    unit: str = "Count",
) -> None:
    from moto.cloudwatch.models import cloudwatch_backends

    cloudwatch_backends[account_id][region].put_metric_data(
        namespace,
        [
            {
                "MetricName": name,
                "Value": float(value),
                "Unit": unit,
                "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            }
        ],
    )
