"""IAM policy condition blocks: does `{"Operator": {"key": value(s)}}` hold for a request's context?

Semantics follow the IAM reference (condition operators, multivalued context keys):
- operators AND together, keys within an operator AND together, the values of one key OR together;
- a key missing from the context makes a positive operator false and a negated one (StringNotEquals,
  ArnNotLike, ...) true; the `...IfExists` suffix makes a missing key true; `Null` tests presence;
- `ForAnyValue:` / `ForAllValues:` compare every value of a multivalued key (kms:ResourceAliases);
  `ForAllValues` with no values is true, `ForAnyValue` with none is false;
- condition key names are case-insensitive, string values are case-sensitive (unless ...IgnoreCase),
  Bool values are not; ArnEquals and ArnLike both take wildcards, per colon-separated ARN part.
An operator this module does not know (Date*, IpAddress, Binary*) never holds: an Allow that depends on
it grants nothing and a Deny that depends on it denies nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

Context = Mapping[str, Sequence[str]]  # lower-cased condition key -> the request's values


@lru_cache(maxsize=1024)
def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern))


def wildcard_match(pattern: str, value: str) -> bool:
    return _wildcard(pattern).fullmatch(value) is not None


def _arn_like(value: str, pattern: str) -> bool:
    parts, wanted = value.split(":", 5), pattern.split(":", 5)
    if len(parts) != 6 or len(wanted) != 6:
        return value == pattern
    return all(wildcard_match(w, p) for w, p in zip(wanted, parts, strict=True))


def _numeric(compare: Callable[[float, float], bool]) -> Callable[[str, str], bool]:
    def check(value: str, wanted: str) -> bool:
        try:
            return compare(float(value), float(wanted))
        except ValueError:
            return False

    return check


# operator -> (compare(context value, policy value), negated); a negated operator is "not any positive match"
_POSITIVE: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda v, w: v == w,
    "StringEqualsIgnoreCase": lambda v, w: v.lower() == w.lower(),
    "StringLike": lambda v, w: wildcard_match(w, v),
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
    "Bool": lambda v, w: v.lower() == w.lower(),
    "NumericEquals": _numeric(lambda v, w: v == w),
    "NumericLessThan": _numeric(lambda v, w: v < w),
    "NumericLessThanEquals": _numeric(lambda v, w: v <= w),
    "NumericGreaterThan": _numeric(lambda v, w: v > w),
    "NumericGreaterThanEquals": _numeric(lambda v, w: v >= w),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def _as_strings(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    # JSON true/false in a policy mean the strings "true"/"false"
    return [str(v).lower() if isinstance(v, bool) else str(v) for v in values]


def _holds(operator: str, key: str, wanted: list[str], context: Context) -> bool:
    set_op, _, base = operator.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    values = context.get(key.lower())
    if base == "Null":
        absent = not values
        return any(absent == (w.lower() == "true") for w in wanted)
    negated = base in _NEGATED
    compare = _POSITIVE.get(_NEGATED.get(base, base))
    if compare is None or set_op not in ("", "ForAnyValue", "ForAllValues"):
        return False
    if not values:
        if if_exists:
            return True
        if set_op:
            return set_op == "ForAllValues"
        return negated

    def one(value: str) -> bool:
        hit = any(compare(value, w) for w in wanted)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return all(one(v) for v in values)
    if set_op == "ForAnyValue" or not negated:
        return any(one(v) for v in values)
    return all(one(v) for v in values)  # a negated operator: no value may match


def conditions_hold(condition: Mapping[str, Mapping[str, Any]] | None, context: Context) -> bool:
    """True when every operator of a statement's Condition block holds for `context`."""
    if not condition:
        return True
    return all(
        _holds(operator, key, _as_strings(wanted), context)
        for operator, keys in condition.items()
        for key, wanted in keys.items()
    )
