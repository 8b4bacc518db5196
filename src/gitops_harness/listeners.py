"""What a load balancer listener forwards to, read with ELBv2's public API (DescribeListeners).

CodeDeploy moves prod traffic by rewriting the listener's default forward action: one target group, or
a ForwardConfig with weighted target groups. ``forward_weights`` reads that back as
{target group name: weight percent}, the view a person checks after a rollback ("all on blue").
"""

from __future__ import annotations

from typing import Any


def forward_weights(elbv2: Any, listener_arn: str) -> dict[str, float]:
    """Target group name -> percent of the listener's default forward action (weights normalised to 100)."""
    [listener] = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    raw: dict[str, float] = {}
    for action in listener.get("DefaultActions", []):
        if action.get("Type") != "forward":
            continue
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups")
        if groups:
            for group in groups:
                arn = group["TargetGroupArn"]
                raw[arn] = raw.get(arn, 0.0) + float(group.get("Weight", 1))
        elif action.get("TargetGroupArn"):
            raw[action["TargetGroupArn"]] = raw.get(action["TargetGroupArn"], 0.0) + 1.0
    names = _names(elbv2, list(raw))
    total = sum(raw.values())
    if total == 0:
        return {names[arn]: 0.0 for arn in raw}
    return {names[arn]: 100.0 * weight / total for arn, weight in raw.items()}


def _names(elbv2: Any, arns: list[str]) -> dict[str, str]:
    if not arns:
        return {}
    groups = elbv2.describe_target_groups(TargetGroupArns=arns)["TargetGroups"]
    return {g["TargetGroupArn"]: g["TargetGroupName"] for g in groups}
