"""Deployment configs: AWS's predefined ones (ECS, Lambda and Server) and the traffic steps an ECS config means.

An ECS config shifts production traffic in steps: AllAtOnce moves 100 % at once; TimeBasedCanary moves
canaryPercentage, waits canaryInterval minutes, then moves the rest; TimeBasedLinear adds linearPercentage
every linearInterval minutes until 100 %.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# AWS's predefined configs are the same in every account and region, created "at the dawn of time".
_EPOCH = datetime(2019, 1, 1, tzinfo=UTC)


@dataclass
class DeploymentConfig:
    name: str
    config_id: str
    compute_platform: str
    traffic_routing: dict[str, Any] | None = None  # TrafficRoutingConfig
    minimum_healthy_hosts: dict[str, Any] | None = None
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    predefined: bool = False

    def to_api(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "deploymentConfigId": self.config_id,
            "deploymentConfigName": self.name,
            "createTime": self.created,
            "computePlatform": self.compute_platform,
        }
        if self.traffic_routing:
            info["trafficRoutingConfig"] = self.traffic_routing
        if self.minimum_healthy_hosts:
            info["minimumHealthyHosts"] = self.minimum_healthy_hosts
        return info


def _ecs(name: str, routing: dict[str, Any]) -> DeploymentConfig:
    return DeploymentConfig(name, f"predefined-{name}", "ECS", routing, created=_EPOCH, predefined=True)


def _canary(percent: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedCanary",
        "timeBasedCanary": {"canaryPercentage": percent, "canaryInterval": minutes},
    }


def _linear(percent: int, minutes: int) -> dict[str, Any]:
    return {
        "type": "TimeBasedLinear",
        "timeBasedLinear": {"linearPercentage": percent, "linearInterval": minutes},
    }


def _server(name: str, kind: str, value: int) -> DeploymentConfig:
    return DeploymentConfig(
        name,
        f"predefined-{name}",
        "Server",
        minimum_healthy_hosts={"type": kind, "value": value},
        created=_EPOCH,
        predefined=True,
    )


PREDEFINED: dict[str, DeploymentConfig] = {
    config.name: config
    for config in (
        _ecs("CodeDeployDefault.ECSAllAtOnce", {"type": "AllAtOnce"}),
        _ecs("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", _linear(10, 1)),
        _ecs("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", _linear(10, 3)),
        _ecs("CodeDeployDefault.ECSCanary10Percent5Minutes", _canary(10, 5)),
        _ecs("CodeDeployDefault.ECSCanary10Percent15Minutes", _canary(10, 15)),
        _server("CodeDeployDefault.OneAtATime", "HOST_COUNT", 1),
        _server("CodeDeployDefault.HalfAtATime", "FLEET_PERCENT", 50),
        _server("CodeDeployDefault.AllAtOnce", "HOST_COUNT", 0),
    )
}


def invalid_routing(routing: dict[str, Any] | None) -> str | None:
    """Why a TrafficRoutingConfig is invalid (InvalidTrafficRoutingConfigurationException), or None."""
    if not routing:
        return None
    kind = routing.get("type")
    key = {"TimeBasedCanary": "timeBasedCanary", "TimeBasedLinear": "timeBasedLinear"}.get(str(kind))
    if key is None:
        return None  # AllAtOnce
    settings = routing.get(key)
    if not isinstance(settings, dict):
        return f"The traffic routing configuration of type {kind} needs {key}"
    percent_key, interval_key = (
        ("canaryPercentage", "canaryInterval")
        if kind == "TimeBasedCanary"
        else ("linearPercentage", "linearInterval")
    )
    percent, interval = settings.get(percent_key), settings.get(interval_key)
    if not isinstance(percent, int) or not 1 <= percent <= 99:
        return f"{key}.{percent_key} must be between 1 and 99 (found {percent!r})"
    if not isinstance(interval, int) or not 1 <= interval <= 2880:
        return f"{key}.{interval_key} must be between 1 and 2880 minutes (found {interval!r})"
    return None


def traffic_steps(routing: dict[str, Any] | None) -> list[tuple[int, int]]:
    """[(green percent, AWS seconds to wait after reaching it)], the last step at 100 % with no wait."""
    kind = (routing or {}).get("type", "AllAtOnce")
    if kind == "TimeBasedCanary":
        canary = routing["timeBasedCanary"]  # type: ignore[index]
        return [(canary["canaryPercentage"], canary["canaryInterval"] * 60), (100, 0)]
    if kind == "TimeBasedLinear":
        linear = routing["timeBasedLinear"]  # type: ignore[index]
        step, wait = linear["linearPercentage"], linear["linearInterval"] * 60
        percents = list(range(step, 100, step)) + [100]
        return [(p, wait if p < 100 else 0) for p in percents]
    return [(100, 0)]
