"""Where a key of a scenario file is written, for the line a schema error names (tomllib keeps no positions)."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")


def _key_parts(text: str) -> tuple[str, ...]:
    parts = re.findall(r"\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+", text)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


def locate_key(text: str, step: int | None, keys: tuple[str, ...], step_count: int) -> int | None:
    """The line (1-based) where `keys` is set in step `step` (0-based; None: the top level), when the file
    spells its steps as [[step]] tables; None when that cannot be told for sure."""
    lines = text.splitlines()
    starts = [n for n, line in enumerate(lines) if (m := _HEADER.match(line)) and m[1] == "[[" and m[2] == "step"]
    if step is not None and len(starts) != step_count:
        return None  # steps written as an inline array, or a header inside a multi-line string
    if step is None:
        first, last = 0, next((n for n, line in enumerate(lines) if _HEADER.match(line)), len(lines))
        section: tuple[str, ...] = ()
    else:
        first, last = starts[step], starts[step + 1] if step + 1 < len(starts) else len(lines)
        section = ()
    enclosing: int | None = None
    for number in range(first, last):
        line = lines[number]
        header = _HEADER.match(line)
        if header:
            parts = _key_parts(header[2])
            if step is None or parts[:1] != ("step",):
                if step is not None:
                    break  # another top-level table: this step ends here
                continue
            section = parts[1:]
            if section and keys[: len(section)] == section and len(section) < len(keys):
                enclosing = enclosing or number + 1
            continue
        match = _KEY.match(line)
        if not match:
            continue
        full = section + _key_parts(match[1])
        if full == keys:
            return number + 1
        if keys[: len(full)] == full:
            enclosing = number + 1  # an inline table holding the key
    if enclosing is None and step is not None:
        return starts[step] + 1  # the step's own [[step]] line: where a missing key belongs
    return enclosing
