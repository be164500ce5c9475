"""Modules that commands import on their quick paths do not drag in the HTTP client libraries."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(m for m in ('aiohttp', 'httpx') if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60)
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "module", ["whatsable_cli.recording.export", "whatsable_cli.delivery.http_rules", "whatsable_cli.listen.model"]
)
def test_module_loads_no_http_client(module: str) -> None:
    assert _loaded_after_import(module) == set()
