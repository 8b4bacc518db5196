"""emulator/common/tags.py: AWS's tag limits are checked before anything is stored."""

from __future__ import annotations

import pytest

from gitops_harness.emulator.common.tags import (
    TagErrors,
    TagStore,
    tags_from_list,
    tags_to_list,
)


class TooMany(Exception):
    pass


class Invalid(Exception):
    pass


class Reserved(Exception):
    pass


ARN = "arn:aws:codepipeline:us-east-1:111111111111:p"


def store(reserved: bool = False) -> TagStore:
    return TagStore(TagErrors(too_many=TooMany, invalid=Invalid, reserved=Reserved if reserved else None))


def test_tag_untag_list() -> None:
    tags = store()
    tags.tag(ARN, {"a": "1", "b": "2"})
    tags.tag(ARN, {"a": "3"})
    assert tags.get(ARN) == {"a": "3", "b": "2"}
    tags.untag(ARN, ["b", "missing"])
    assert tags.get(ARN) == {"a": "3"}
    tags.drop(ARN)
    assert tags.get(ARN) == {}


def test_fifty_first_tag_is_refused_and_nothing_is_stored() -> None:
    tags = store()
    tags.tag(ARN, {f"k{i}": "v" for i in range(49)})
    with pytest.raises(TooMany, match="at most 50"):
        tags.tag(ARN, {"new1": "v", "new2": "v"})
    assert len(tags.get(ARN)) == 49
    assert "new1" not in tags.get(ARN)
    tags.tag(ARN, {"k0": "overwritten", "new1": "v"})  # overwriting does not count twice
    assert len(tags.get(ARN)) == 50


@pytest.mark.parametrize(
    "bad", [{"": "v"}, {"k" * 129: "v"}, {"k": "v" * 257}], ids=["empty key", "long key", "long value"]
)
def test_lengths_are_checked_before_storing(bad: dict[str, str]) -> None:
    tags = store()
    with pytest.raises(Invalid):
        tags.tag(ARN, {"good": "v", **bad})
    assert tags.get(ARN) == {}


def test_reserved_prefix_uses_the_reserved_error_when_given() -> None:
    with pytest.raises(Invalid, match="aws:"):
        store().tag(ARN, {"aws:cloudformation:stack-name": "x"})
    with pytest.raises(Reserved, match="aws:"):
        store(reserved=True).tag(ARN, {"AWS:x": "x"})
    with pytest.raises(Reserved):
        store(reserved=True).untag(ARN, ["aws:x"])


def test_list_styles_round_trip() -> None:
    assert tags_from_list([{"key": "a", "value": "1"}, {"key": "b"}]) == {"a": "1", "b": ""}
    assert tags_to_list({"a": "1"}, style="Key") == [{"Key": "a", "Value": "1"}]
    assert tags_from_list(tags_to_list({"a": "1"}, style="Key"), style="Key") == {"a": "1"}
    assert tags_from_list(None) == {}
