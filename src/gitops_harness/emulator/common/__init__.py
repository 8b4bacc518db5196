"""Pieces every control plane shares, written once: paging tokens, tag stores, ARNs, record logs and
event publishing. Each module is small and has its own tests (tests/emulator/test_common_*.py).

    from gitops_harness.emulator.common.pagination import paginate
    from gitops_harness.emulator.common.tags import TagStore, TagLimits, tags_from_list, tags_to_list
    from gitops_harness.emulator.common.arns import parse_arn, build_arn
    from gitops_harness.emulator.common.records import RecordLog
    from gitops_harness.emulator.common.events import EventPublisher, event_entry

Errors stay the plane's: a helper that can refuse input takes the plane's modeled error class (or a
function making one) and raises it, so the answer carries the service's own error code.
"""
