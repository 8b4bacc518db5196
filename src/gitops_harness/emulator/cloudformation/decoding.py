"""Template text -> dict as CloudFormation reads it, with cfn-lint's decoder instead of moto's YAML reader.

moto's reader turns short forms into garbage (`!GetAtt [A, B]` keeps ScalarNodes, `!ImportValue` over an
indented `Fn::Sub:` loses the mapping) and lets PyYAML make `Version: 2012-10-17` a date, which later
breaks serialization (an HTML 500). cfn-lint's decoder reads every short form as CloudFormation does; the
dates it still makes are turned back into the text they were written as, which is what AWS keeps.
A template that is not JSON/YAML is AWS's ValidationError "Template format error: ...".
"""

from __future__ import annotations

import datetime
from typing import Any


def format_error(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=f"Template format error: {message}")


def decode(text: Any) -> dict[str, Any]:
    """The template as plain dicts, lists and scalars; ValidationError if it is not a JSON/YAML object."""
    if isinstance(text, dict):
        return text
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str) or not text.strip():
        raise format_error("unsupported structure.")
    from cfnlint.decode import decode_str

    is_json = text.lstrip().startswith("{")
    try:
        template, matches = decode_str(text)
    except Exception as error:  # the decoder's own failures are format errors too, never a 500
        raise format_error(f"{'JSON' if is_json else 'YAML'} not well-formed. ({error})") from None
    if template is None:
        where = ""
        if matches:
            first = matches[0]
            where = f" (line {first.linenumber}, column {first.columnnumber})"
        raise format_error(f"{'JSON' if is_json else 'YAML'} not well-formed.{where}")
    if not isinstance(template, dict):
        raise format_error("unsupported structure.")
    return plain(template)


def plain(node: Any) -> Any:
    """cfn-lint's node classes as builtins (moto copies and serializes templates), dates as their text."""
    if isinstance(node, dict):
        return {str(key): plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    if isinstance(node, datetime.datetime):
        return node.isoformat()
    if isinstance(node, datetime.date):
        return node.isoformat()  # 2012-10-17, as written
    if isinstance(node, str):
        return str(node)
    return node


def parse_template_replacing(_moto_parse: Any) -> Any:
    """moto's `Stack.parse_template` (a staticmethod)."""
    return staticmethod(decode)


def change_set_parsing(_moto_parse: Any) -> Any:
    """moto's `ChangeSet._parse_template`."""

    def _parse_template(change_set: Any) -> None:
        change_set.template_dict = decode(change_set.template)

    return _parse_template
