"""The text a request body is searched by: its words, with JSON's string escapes undone. Pure, deterministic."""

from __future__ import annotations

import re

SQL_FUNCTION = "whatsable_search_text"  # registered on every connection to the history (schema.connect)
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.DOTALL)


def _unescape(match: re.Match[str]) -> str:
    if match.group(1):
        char = chr(int(match.group(1), 16))
        return " " if 0xD800 <= ord(char) <= 0xDFFF else char  # half of an escaped pair: no word in it
    char = match.group(2)
    return " " if char in "nrtbf" else char


def search_text(body: bytes | None) -> str:
    """What the full-text index holds for a body: its text, JSON escapes undone, so `Hi\\nthere` is two words
    and `caf\\u00e9` is "café". Deterministic: an entry is removed by giving the index this same text again."""
    if not body:
        return ""
    text = bytes(body).decode("utf-8", "replace")
    return _JSON_ESCAPE.sub(_unescape, text) if "\\" in text else text
