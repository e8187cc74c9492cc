"""Model references as people type them: ``NAME``, ``NAME@3``, ``NAME@champion``."""

from __future__ import annotations

import re

__all__ = ["NAME_PATTERN", "check_name", "parse_ref"]

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")

Selector = int | str | None


def check_name(name: str) -> str:
    """`name` if it is a valid model name: letters, digits, ``_ . -``, starting with a letter or
    digit, at most 128 characters.

    >>> check_name("fraud.v2")
    'fraud.v2'
    >>> check_name("fraud:v2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: invalid model name 'fraud:v2': use letters, digits, '_', '.', '-' ...
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValueError(
            f"invalid model name {name!r}: use letters, digits, '_', '.', '-' "
            "(first a letter or digit)"
        )
    return name


def parse_ref(ref: str) -> tuple[str, Selector]:
    """Split a model reference into its name and version selector.

    The selector is an int for ``NAME@3``, ``"champion"`` or ``"latest"`` when spelled out, and
    None for a bare ``NAME`` (which `Registry.get` reads as the champion, else the latest).

    >>> parse_ref("fraud@3"), parse_ref("fraud"), parse_ref("fraud@champion")
    (('fraud', 3), ('fraud', None), ('fraud', 'champion'))
    >>> parse_ref("fraud@v3")
    ('fraud', 3)
    >>> parse_ref("fraud@three")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: bad model reference 'fraud@three': expected NAME, NAME@VERSION ...
    """
    name, sep, selector = ref.partition("@")
    expected = "expected NAME, NAME@VERSION (a positive integer), NAME@champion or NAME@latest"
    if not NAME_PATTERN.fullmatch(name) or (sep and not selector):
        raise ValueError(f"bad model reference {ref!r}: {expected}")
    if not sep:
        return name, None
    if selector in ("champion", "latest"):
        return name, selector
    digits = selector[1:] if selector[:1] in ("v", "V") else selector
    if not digits.isascii() or not digits.isdigit() or int(digits) < 1:
        raise ValueError(f"bad model reference {ref!r}: {expected}")
    return name, int(digits)
