"""`events export`: a recorded request as a curl command that re-sends its exact bytes, or as JSON. No I/O.

The body travels as `printf '<format>' | curl --data-binary @-`. POSIX printf turns escapes such as
`\\n`, `\\\\` and `\\ooo` (octal) into single bytes, so every byte that is not printable ASCII (NUL,
control bytes, non-ASCII and non-UTF-8 bytes, the single quote) is written as an escape, `%` as `%%`,
and JSON stays readable. printf is a builtin of bash and dash (both tested), so a large body does not
hit the kernel's argument-size limit, and `--data-binary` sends the bytes unchanged (`-d` would not).
"""

from __future__ import annotations

from typing import Any

from whatsable_cli.delivery.http_rules import HOP_BY_HOP
from whatsable_cli.recording.lines import RecordedRequest

_PLAIN_BYTES = frozenset(range(0x20, 0x7F)) - {ord("'"), ord("\\")}


def shell_quote(text: str) -> str:
    """Single-quote for POSIX sh: everything literal, a quote written as '\\''."""
    return "'" + text.replace("'", "'\\''") + "'"


def printf_format(body: bytes) -> str:
    """A printf format string that prints exactly `body` (see the module docstring)."""
    text = "".join(_escape(byte) for byte in body)
    # a leading '-' would be read as an option of printf
    return "\\055" + text[1:] if text.startswith("-") else text


_NAMED_ESCAPES = {ord("%"): "%%", ord("\\"): "\\\\", ord("\n"): "\\n", ord("\t"): "\\t"}


def _escape(byte: int) -> str:
    named = _NAMED_ESCAPES.get(byte)
    if named is not None:
        return named
    return chr(byte) if byte in _PLAIN_BYTES else f"\\{byte:03o}"


def _header_argument(name: str, value: str) -> str:
    # curl drops a header given as 'Name:'; 'Name;' is its syntax for sending it with an empty value.
    return f"{name};" if value == "" else f"{name}: {value}"


def default_target(request: RecordedRequest, base: str = "http://localhost:3000") -> str:
    """Where the command sends by default: a local app, at the path and query the request came in on."""
    query = f"?{request.query}" if request.query else ""
    return base.rstrip("/") + (request.path or "/") + query


def curl_command(request: RecordedRequest, url: str) -> str:
    """A POSIX shell command line that re-sends the request's method, end-to-end headers and exact body."""
    parts = ["curl", "--silent", "--show-error"]
    if request.method.upper() != "POST":
        parts += ["--request", shell_quote(request.method.upper())]
    # a `decoded` body was recorded decompressed, so the Content-Encoding it arrived with no longer holds
    dropped = HOP_BY_HOP | {"content-encoding"} if "decoded" in request.flags else HOP_BY_HOP
    for name, value in request.headers:
        if name.lower() not in dropped:
            parts += ["--header", shell_quote(_header_argument(name, value))]
    if not any(name.lower() == "content-type" for name, _ in request.headers):
        # 'Name:' removes curl's own application/x-www-form-urlencoded label, as the original had none
        parts += ["--header", shell_quote("Content-Type:")]
    parts += ["--data-binary", "@-", shell_quote(url)]
    return f"printf {shell_quote(printf_format(request.body_bytes))} | " + " ".join(parts)


def request_json(request: RecordedRequest) -> dict[str, Any]:
    """The recorded request as one JSON object (the recording's own line format)."""
    return request.to_dict()
