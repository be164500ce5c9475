"""Renders a signature verification (the verdict and an explanation to act on) and `verify --explain`."""

from __future__ import annotations

from rich.markup import escape

from whatsable_cli.render.console import print_json, stdout_console
from whatsable_cli.render.text import plural
from whatsable_cli.webhooks.explain import REPORT_HINT, Explanation
from whatsable_cli.webhooks.redaction import display_header_value
from whatsable_cli.webhooks.signing import SCHEMES, Verification


def render_verification(
    result: Verification,
    body: bytes,
    headers: list[tuple[str, str]],
    *,
    detected: bool,
    show_secrets: bool,
    json_output: bool,
) -> None:
    if json_output:
        print_json(
            {
                "valid": result.ok,
                "scheme": result.scheme,
                "reason": result.reason.value,
                "detail": result.detail,
                "hint": result.hint,
                "skew_seconds": result.skew_seconds,
                "signed_content": result.signed_content,
                "body_bytes": len(body),
            }
        )
        return
    console = stdout_console()
    scheme = SCHEMES[result.scheme]
    how = "detected from the headers" if detected else "chosen"
    console.print(f"scheme          {scheme.name} ({how}): {scheme.description}")
    for name, value in headers:
        if name.lower() in {h.lower() for h in scheme.header_names}:
            shown = display_header_value(name, value, show_secrets=show_secrets)
            console.print(f"header          {escape(name)}: {escape(shown)}")
    console.print(f"body            {plural(len(body), 'byte')} (verified exactly as given)")
    if result.signed_content:
        console.print(f"signed content  {escape(result.signed_content)}")
    if result.skew_seconds is not None:
        console.print(f"timestamp skew  {result.skew_seconds:+.0f} s")
    mark = "[bold green]✓ valid[/]" if result.ok else f"[bold red]✗ {result.reason.value}[/]"
    console.print(f"result          {mark}: {escape(result.detail)}")
    if result.hint:
        console.print(f"hint            {escape(result.hint)}")


def render_explanation(explanation: Explanation, body: bytes, *, json_output: bool) -> None:
    """Which construction made the request's signature, out of how many tried (the values stay unprinted)."""
    if json_output:
        print_json({**explanation.to_dict(), "body_bytes": len(body)})
        return
    console = stdout_console()
    if not explanation.headers:
        console.print("[bold red]✗ no signature header[/]: the request carries none to explain")
        console.print("hint            capture the request with all its headers (whatsable listen records them)")
        return
    console.print(f"headers         {escape(', '.join(explanation.headers))}")
    console.print(f"body            {plural(len(body), 'byte')} (exactly as given)")
    console.print(f"tried           {len(explanation.attempts)} constructions")
    if not explanation.matches:
        console.print(
            "[bold red]✗ none matched[/]: the secret is not this webhook's, the body changed on the way, or the "
            "sender uses a construction whatsable does not know"
        )
        return
    for attempt in explanation.matches:
        console.print(f"[bold green]✓ matched[/]       {escape(attempt.header)} = {escape(attempt.description)}")
        if attempt.note:
            console.print(f"                {escape(attempt.note)}")
        follow = f"verify it with --scheme {attempt.scheme}" if attempt.scheme else REPORT_HINT
        console.print(f"                {escape(follow)}")
