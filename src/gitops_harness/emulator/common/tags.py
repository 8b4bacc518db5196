"""Tags per ARN with AWS's limits checked before anything is stored, and the two list styles services use.

AWS's tagging rules (Tagging AWS resources, "Tag naming limits and requirements"): at most 50 user tags
per resource, keys 1-128 characters, values 0-256 characters, and keys starting with ``aws:`` are
reserved. A TagResource that breaks any rule changes nothing, so every check runs before the store is
touched. Each service names the errors differently, so the plane passes its own:

    self.tags = TagStore(TagErrors(too_many=self.errors.TooManyTagsException,
                                   invalid=self.errors.InvalidTagsException))
    self.tags.tag(arn, tags_from_list(request["tags"]))           # key/value style (CodePipeline)
    {"tags": tags_to_list(self.tags.get(arn))}
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

Style = Literal["key", "Key"]  # {"key": k, "value": v} (CodePipeline, CodeBuild) or {"Key", "Value"}


@dataclass(frozen=True)
class TagLimits:
    max_tags: int = 50
    max_key_length: int = 128
    max_value_length: int = 256
    reserved_prefix: str = "aws:"


@dataclass(frozen=True)
class TagErrors:
    """How the plane answers a broken rule: each is called with a message and returns the exception.
    `reserved` defaults to `invalid` (CodeCommit has its own InvalidSystemTagUsageException)."""

    too_many: Callable[[str], Exception]
    invalid: Callable[[str], Exception]
    reserved: Callable[[str], Exception] | None = None


def check_tags(
    tags: Mapping[str, str], existing: Mapping[str, str], limits: TagLimits, errors: TagErrors
) -> None:
    """Raise the plane's error if adding `tags` to `existing` would break AWS's limits."""
    reserved = errors.reserved or errors.invalid
    for key, value in tags.items():
        if not isinstance(key, str) or not 1 <= len(key) <= limits.max_key_length:
            raise errors.invalid(f"Tag key {key!r} must be 1 to {limits.max_key_length} characters long.")
        if not isinstance(value, str) or len(value) > limits.max_value_length:
            raise errors.invalid(
                f"The value of tag {key!r} must be at most {limits.max_value_length} characters long."
            )
        if key.lower().startswith(limits.reserved_prefix):
            raise reserved(
                f"The tag key {key!r} uses the prefix {limits.reserved_prefix!r}, reserved for system use."
            )
    total = len(set(existing) | set(tags))
    if total > limits.max_tags:
        raise errors.too_many(
            f"A resource can have at most {limits.max_tags} tags; this request would leave {total}."
        )


def check_tag_keys(keys: Iterable[str], limits: TagLimits, errors: TagErrors) -> None:
    """UntagResource's rule: reserved keys cannot be removed either."""
    reserved = errors.reserved or errors.invalid
    for key in keys:
        if key.lower().startswith(limits.reserved_prefix):
            raise reserved(
                f"The tag key {key!r} uses the prefix {limits.reserved_prefix!r}, reserved for system use."
            )


class TagStore:
    """Tags by ARN, thread-safe. Keys keep their insertion order, as AWS lists them."""

    def __init__(self, errors: TagErrors, limits: TagLimits = TagLimits()):
        self.errors = errors
        self.limits = limits
        self._tags: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def check(self, arn: str, tags: Mapping[str, str]) -> None:
        """Raise what `tag(arn, tags)` would raise, storing nothing (validate before creating a resource)."""
        with self._lock:
            check_tags(tags, self._tags.get(arn, {}), self.limits, self.errors)

    def tag(self, arn: str, tags: Mapping[str, str]) -> None:
        """Add or overwrite `tags` on `arn`, after checking the limits against what it already has."""
        with self._lock:
            current = self._tags.get(arn, {})
            check_tags(tags, current, self.limits, self.errors)
            self._tags[arn] = {**current, **tags}

    def untag(self, arn: str, keys: Iterable[str]) -> None:
        keys = list(keys)
        check_tag_keys(keys, self.limits, self.errors)
        with self._lock:
            current = self._tags.get(arn)
            for key in keys:
                if current is not None:
                    current.pop(key, None)

    def get(self, arn: str) -> dict[str, str]:
        """A copy of `arn`'s tags ({} for an untagged or unknown ARN)."""
        with self._lock:
            return dict(self._tags.get(arn, {}))

    def drop(self, arn: str) -> None:
        """Forget `arn`'s tags (its resource was deleted: a new one with the same ARN starts untagged)."""
        with self._lock:
            self._tags.pop(arn, None)

    def reset(self) -> None:
        with self._lock:
            self._tags.clear()


def tags_from_list(tags: Iterable[Mapping[str, str]] | None, style: Style = "key") -> dict[str, str]:
    """[{"key": k, "value": v}] (or {"Key", "Value"}) -> {k: v}; a missing value reads as ""."""
    value = "value" if style == "key" else "Value"
    return {item[style]: item.get(value, "") for item in tags or ()}


def tags_to_list(tags: Mapping[str, str], style: Style = "key") -> list[dict[str, str]]:
    """{k: v} -> [{"key": k, "value": v}] (or {"Key", "Value"})."""
    value = "value" if style == "key" else "Value"
    return [{style: k, value: v} for k, v in tags.items()]
