"""Strict patterns for every name that reaches a file path or a NATS subject.

No path traversal, no subject injection: names are checked once, here, before use.
"""

from __future__ import annotations

import re

from spymaster_shared.errors import InvalidNameError

# Config names, aliases, serving versions, dataset ids.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")
# Instrument symbols (MNQH6, ESM4, ARL, BRK.B): no wildcards, no separators but '.'.
SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$")
PRODUCT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


def check_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a safe name for files and subjects, else raise."""
    if not isinstance(value, str) or not NAME_RE.fullmatch(value):
        raise InvalidNameError(f"{what} {value!r} must match {NAME_RE.pattern}", field=what)
    return value


def check_symbol(value: str, what: str = "symbol") -> str:
    if not isinstance(value, str) or not SYMBOL_RE.fullmatch(value) or ".." in value:
        raise InvalidNameError(f"{what} {value!r} must match {SYMBOL_RE.pattern}", field=what)
    return value


def check_product_type(value: str, what: str = "product_type") -> str:
    if not isinstance(value, str) or not PRODUCT_TYPE_RE.fullmatch(value):
        raise InvalidNameError(f"{what} {value!r} must match {PRODUCT_TYPE_RE.pattern}", field=what)
    return value


def subject_token(value: str) -> str:
    """A NATS subject token: symbols may carry '.', which would split a subject."""
    return check_symbol(value).replace(".", "_")
