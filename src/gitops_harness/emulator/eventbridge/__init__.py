"""EventBridge delivery the way AWS does it, on top of moto's events backend (see delivery.py)."""

from gitops_harness.emulator.eventbridge.delivery import DELIVERIES_PATH, EventDelivery

__all__ = ["DELIVERIES_PATH", "EventDelivery"]
