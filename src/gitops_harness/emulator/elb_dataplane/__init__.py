"""An ALB that carries requests: listener servers, forwarding by (weighted) actions, health checks, metrics."""

from gitops_harness.emulator.elb_dataplane.data_plane import DataPlane, start, stop

__all__ = ["DataPlane", "start", "stop"]
