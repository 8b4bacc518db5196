"""Opaque next tokens for list operations, and one `paginate` that every plane's List* uses.

A token encodes the offset of the next page with a version tag, base64url-encoded, so callers cannot
mistake it for a number and a plane can change the encoding later. A token that does not decode, or
points past the end of the list, raises the plane's own error (AWS answers e.g. CodePipeline's
InvalidNextTokenException, CodeCommit's InvalidContinuationTokenException, CodeBuild's
InvalidInputException): never a 500.

    page, token = paginate(items, request.get("nextToken"), page_size=100,
                           invalid_token=self.errors.InvalidNextTokenException)
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")

_PREFIX = "v1:"
INVALID_TOKEN_MESSAGE = "The next token is not valid."


def encode_token(offset: int) -> str:
    """The opaque token for the page starting at `offset`."""
    return base64.urlsafe_b64encode(f"{_PREFIX}{offset}".encode()).decode()


def decode_token(token: str) -> int | None:
    """The offset a token names, or None when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        return None
    if not text.startswith(_PREFIX) or not text[len(_PREFIX) :].isdigit():
        return None
    return int(text[len(_PREFIX) :])


def paginate(
    items: Sequence[T],
    next_token: str | None,
    page_size: int,
    *,
    invalid_token: Callable[[str], Exception],
    message: str = INVALID_TOKEN_MESSAGE,
) -> tuple[list[T], str | None]:
    """One page of `items` from `next_token` (None or "" for the first page) and the token of the next
    page (None on the last). `invalid_token(message)` builds the error raised for a bad token."""
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    start = 0
    if next_token:
        offset = decode_token(next_token)
        if offset is None or offset > len(items):
            raise invalid_token(message)
        start = offset
    end = start + page_size
    return list(items[start:end]), (encode_token(end) if end < len(items) else None)
