"""Bilingual Hebrew–English pairs: the built-in ones (translators' gettext catalogs, read where they are
installed) and the user's JSONL files, each pair checked and either kept or counted under a drop reason.

Built-in pairs come from every ``*.mo`` catalog in ``<prefix>/share/locale/he/LC_MESSAGES/`` (Debian's, and
the running Python's prefix) and in the ``jupyterlab-language-pack-he-il`` wheel; nothing is copied into the
repository. An entry is the English ``msgid`` and its Hebrew translation, after gettext markup is removed:
a ``msgctxt`` prefix, keyboard accelerators (``_File``, ``&Open``, a Hebrew ``(_F)``), and for plural entries
only the singular form. Format placeholders (``%s``, ``%1$d``, ``%(name)s``, ``{0}``) stay, and must be the
same on both sides (``placeholder_mismatch`` otherwise). Only entries of ``min_words`` English words or more
are pairs: shorter ones are labels, not sentences.

A user's file is JSONL, one record per line: ``{"he": ..., "en": ...}``, or a chat record ``{"messages":
[{"role": "user", "content": ...}, {"role": "assistant", "content": ...}]}`` whose two turns are the two
languages (which is which is read from the script). Bad records are counted, never raised: ``not_utf8``,
``bad_json``, ``missing_side``, ``swapped_sides`` (English under ``he`` and Hebrew under ``en``).

``check_pair`` gives the reason a pair is unusable, or None: ``empty_side``, ``same_text``,
``wrong_script_he`` / ``wrong_script_en``, ``visual_order`` (Hebrew stored reversed, as old catalogs do: final
letter forms starting words — ``curation.visual.order_evidence`` — or, without that evidence, the reversed
words being the more frequent Hebrew words), ``placeholder_mismatch``.
"""

from __future__ import annotations

import gettext
import importlib.util
import json
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.text import BIDI_MARKS, ZERO_WIDTH

__all__ = [
    "Pair",
    "builtin_catalogs",
    "builtin_pairs",
    "catalog_pairs",
    "check_pair",
    "clean_markup",
    "is_visual_order",
    "read_pairs_file",
    "script_shares",
]

JUPYTERLAB_PACK = "jupyterlab_language_pack_he_IL"

_PLACEHOLDER = re.compile(
    r"%(?:\d+\$)?(?:\([^)]*\))?[-+ #0']*\d*(?:\.\d+)?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfFgGcsp%]|\{[^{}]*\}"
)
_HEBREW_ACCEL = re.compile(r"\s*\(_?[A-Za-z0-9]\)")  # "קובץ (_F)": the English accelerator kept in the translation
_UNDERSCORE_ACCEL = re.compile(r"(?<![\w_])_(?=\w)")  # "_File", "Save _As": not "snake_case" nor "__init__"
_AMP_ACCEL = re.compile(r"&(?=[^\s&;#]+(?:\s|$|[^;\w]))")  # "&Open": not "&amp;" nor "&&"
_SPACES = re.compile(r"\s+")
_INVISIBLE = dict.fromkeys(map(ord, BIDI_MARKS | ZERO_WIDTH))


@dataclass(frozen=True, slots=True)
class Pair:
    """One Hebrew–English pair and where it came from (a file and line, or a catalog and msgid number)."""

    he: str
    en: str
    source: str


def clean_markup(text: str) -> str:
    """Text without gettext UI markup: accelerators, bidi and zero-width marks, and runs of whitespace."""
    text = text.translate(_INVISIBLE)
    text = _HEBREW_ACCEL.sub("", text)
    text = _UNDERSCORE_ACCEL.sub("", text)
    text = _AMP_ACCEL.sub("", text).replace("&&", "&")
    return _SPACES.sub(" ", text).strip()


def placeholders(text: str) -> Counter:
    """The format placeholders of ``text`` (``%s``, ``%1$d``, ``%(name)s``, ``{0}``), as a multiset."""
    return Counter(m.group(0) for m in _PLACEHOLDER.finditer(text) if m.group(0) != "%%")


def script_shares(text: str) -> tuple[float, float]:
    """(Hebrew, Latin) letters as shares of all letters of ``text`` (0, 0 without letters)."""
    hebrew = latin = letters = 0
    for ch in text:
        if not ch.isalpha():
            continue
        letters += 1
        if "\u0590" <= ch <= "\u05ff" or "\ufb1d" <= ch <= "\ufb4f":
            hebrew += 1
        elif ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
            latin += 1
    return (hebrew / letters, latin / letters) if letters else (0.0, 0.0)


def _frequency(words: list[str]) -> float:
    from wordfreq import zipf_frequency

    return sum(zipf_frequency(w, "he") for w in words)


def is_visual_order(he: str) -> bool:
    """Hebrew stored in display order (each line reversed)? Final letter forms say so where they can; a text
    without that evidence is visual when its words reversed are the more frequent Hebrew words."""
    from curation.visual import order_evidence

    visual, logical = order_evidence(he)
    if visual or logical:
        return visual > logical
    words = re.findall("[\u05d0-\u05ea]{2,}", he)
    return bool(words) and _frequency([w[::-1] for w in words]) > _frequency(words)


def check_pair(he: str, en: str) -> str | None:
    """Why the pair cannot be used (a drop reason), or None."""
    if not he.strip() or not en.strip():
        return "empty_side"
    if _SPACES.sub(" ", he).strip().casefold() == _SPACES.sub(" ", en).strip().casefold():
        return "same_text"
    he_share, _ = script_shares(he)
    en_hebrew, en_latin = script_shares(en)
    if he_share < 0.5:
        return "wrong_script_he"
    if en_latin < 0.5 or en_hebrew > 0.1:
        return "wrong_script_en"
    if is_visual_order(he):
        return "visual_order"
    if placeholders(he) != placeholders(en):
        return "placeholder_mismatch"
    return None


# --- built-in pairs: gettext catalogs -------------------------------------------------------------------------


def builtin_catalogs() -> list[Path]:
    """The Hebrew ``*.mo`` catalogs installed on this machine (system and Python prefixes, the JupyterLab pack)."""
    folders = {Path(p) / "share" / "locale" / "he" / "LC_MESSAGES" for p in ("/usr", "/usr/local", sys.prefix)}
    spec = importlib.util.find_spec(JUPYTERLAB_PACK)
    if spec is not None and spec.origin is not None:
        folders.add(Path(spec.origin).parent / "locale" / "he_IL" / "LC_MESSAGES")
    found: dict[str, Path] = {}
    for folder in sorted(folders):
        for path in sorted(folder.glob("*.mo")) if folder.is_dir() else []:
            found.setdefault(str(path.resolve()), path)
    return sorted(found.values())


def catalog_pairs(path: Path, *, min_words: int = 4) -> Iterator[tuple[Pair | None, str | None]]:
    """``(pair, None)`` for each usable entry of a ``.mo`` catalog with ``min_words`` English words or more,
    ``(None, reason)`` for one that is not (``unreadable_catalog`` for a damaged file)."""
    try:
        with open(path, "rb") as f:
            catalog = gettext.GNUTranslations(f)._catalog
    except (OSError, UnicodeDecodeError, ValueError, IndexError) as e:  # gettext raises OSError on bad magic
        del e
        yield None, "unreadable_catalog"
        return
    for n, (key, value) in enumerate(catalog.items()):
        if isinstance(key, tuple):  # plural entry: (msgid, form); keep the singular form
            if key[1] != 0:
                continue
            key = key[0]
        key = key.rpartition("\x04")[2]  # "context\x04msgid"
        if not key or not isinstance(value, str):
            continue  # the header
        en, he = clean_markup(key), clean_markup(value)
        if len(en.split()) < min_words:
            continue
        reason = check_pair(he, en)
        yield (None, reason) if reason else (Pair(he=he, en=en, source=f"{path.name}#{n}"), None)


def builtin_pairs(*, min_words: int = 4) -> tuple[list[Pair], Counter, list[str]]:
    """(pairs, drop reasons, catalogs read) of every installed Hebrew catalog."""
    pairs, dropped, names = [], Counter(), []
    for path in builtin_catalogs():
        names.append(str(path))
        for pair, reason in catalog_pairs(path, min_words=min_words):
            if pair is None:
                dropped[reason] += 1
            else:
                pairs.append(pair)
    return pairs, dropped, names


# --- the user's pairs: JSONL ------------------------------------------------------------------------------------


def _from_messages(messages) -> tuple[str | None, str | None]:
    """(he, en) of a chat record's first user turn and first assistant turn, told apart by script."""
    if not isinstance(messages, list):
        return None, None
    turns = {}
    for m in messages:
        if isinstance(m, dict) and isinstance(m.get("content"), str):
            turns.setdefault(m.get("role"), m["content"])
    texts = [turns.get("user"), turns.get("assistant")]
    if any(t is None for t in texts):
        return None, None
    hebrew = [script_shares(t)[0] >= 0.5 for t in texts]
    if hebrew == [True, False]:
        return texts[0], texts[1]
    if hebrew == [False, True]:
        return texts[1], texts[0]
    return (texts[0], texts[1]) if hebrew[0] else (texts[1], texts[0])  # check_pair names the wrong side


def read_pairs_file(path: Path) -> Iterator[tuple[Pair | None, str | None]]:
    """``(pair, None)`` for each record of a JSONL file, ``(None, reason)`` for one that cannot be read as a
    pair (``not_utf8``, ``bad_json``, ``missing_side``, ``swapped_sides``) or fails ``check_pair``."""
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                yield None, "not_utf8"
                continue
            except ValueError:
                yield None, "bad_json"
                continue
            if not isinstance(record, dict):
                yield None, "bad_json"
                continue
            if "messages" in record:
                he, en = _from_messages(record["messages"])
            else:
                he, en = record.get("he"), record.get("en")
            if not isinstance(he, str) or not isinstance(en, str):
                yield None, "missing_side"
                continue
            he, en = clean_markup(he), clean_markup(en)
            if he and en and script_shares(he)[1] >= 0.5 and script_shares(en)[0] >= 0.5:
                yield None, "swapped_sides"
                continue
            reason = check_pair(he, en)
            yield (None, reason) if reason else (Pair(he=he, en=en, source=f"{path}:{line_no}"), None)
