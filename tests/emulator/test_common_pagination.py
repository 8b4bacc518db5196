"""emulator/common/pagination.py: opaque tokens, pages, and the plane's error for a bad token."""

from __future__ import annotations

import pytest

from gitops_harness.emulator.common.pagination import decode_token, encode_token, paginate


class BadToken(Exception):
    pass


def test_pages_walk_the_whole_list_in_order() -> None:
    items = list(range(25))
    seen: list[int] = []
    token: str | None = None
    pages = 0
    while True:
        page, token = paginate(items, token, 10, invalid_token=BadToken)
        seen += page
        pages += 1
        if token is None:
            break
    assert seen == items
    assert pages == 3


def test_tokens_are_opaque_and_round_trip() -> None:
    token = encode_token(40)
    assert not token.isdigit()
    assert decode_token(token) == 40


def test_exact_multiple_has_no_trailing_token() -> None:
    page, token = paginate(list(range(10)), None, 10, invalid_token=BadToken)
    assert len(page) == 10 and token is None


@pytest.mark.parametrize("token", ["abc", "10", "not base64 !!", encode_token(11)[:-2], encode_token(99)])
def test_invalid_token_raises_the_planes_error(token: str) -> None:
    with pytest.raises(BadToken, match="next token is not valid"):
        paginate(list(range(10)), token, 5, invalid_token=BadToken)


def test_custom_message() -> None:
    with pytest.raises(BadToken, match="continuation token"):
        paginate(
            [], "zz", 5, invalid_token=BadToken, message="The specified continuation token is not valid."
        )
