"""Charset labels as web pages declare them, mapped to the Python codec that decodes them.

Browsers accept labels that Python's codec registry does not know. The Hebrew ones matter here: RFC 1556's
`iso-8859-8-i` (implicit bidi, logical order) and `iso-8859-8-e` (explicit bidi) are the bytes of ISO-8859-8
and must decode as such, as must the WHATWG Encoding Standard's other labels of it (`logical`, `visual`,
`iso88598`, `csiso88598i`, ...). A label neither this table nor Python knows maps to None.
"""

from __future__ import annotations

import codecs

# WHATWG Encoding Standard labels (and RFC 1556's -e) that Python's registry lacks, by the codec they name
_ALIASES: dict[str, tuple[str, ...]] = {
    "iso8859-8": (
        "iso-8859-8-i",
        "iso-8859-8-e",
        "iso_8859-8-i",
        "iso_8859-8-e",
        "iso88598",
        "iso88598i",
        "iso88598e",
        "csiso88598i",
        "csiso88598e",
        "logical",
        "visual",
    ),
    "cp1255": ("x-cp1255",),
    "cp1252": ("x-cp1252",),
    "utf-8": ("unicode-1-1-utf-8", "unicode11utf8", "unicode20utf8", "x-unicode20utf8"),
    "shift_jis": ("x-sjis",),
    "euc_jp": ("x-euc-jp",),
    "gbk": ("x-gbk",),
    "cp862": ("csibm862", "dos-862"),
}
ALIASES: dict[str, str] = {label: codec for codec, labels in _ALIASES.items() for label in labels}


def normalize_label(label: str) -> str:
    """A declared label as compared: stripped of quotes and spaces, lower-cased."""
    return label.strip().strip("\"'").strip().lower()


def python_codec(label: str | None) -> str | None:
    """The Python codec name that decodes text declared as LABEL; None for no label or one nobody knows."""
    if not label:
        return None
    name = normalize_label(label)
    name = ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None
