"""Start-up: `whatsable --help` against a bare Typer app with the same command names, wall time median.

Same footing for both: the installed `whatsable` console script (what a user runs) against a launcher
made from that very script's text with only the imported module swapped for the bare app's, both run
by the same interpreter. (`python -m whatsable_cli` against `python bare_app.py` would charge us for
runpy's module lookup, ~5 ms, that the baseline does not pay.) Without an installed script, both run
with `-m`. Runs alternate after a warm-up of each, so a busy machine hits both alike.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.stats import median


def command_names() -> tuple[list[str], list[str]]:
    """The top-level commands and command groups of the real app, read from the Typer app itself."""
    from whatsable_cli.cli import app

    commands = [c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands]
    groups = [g.name or "" for g in app.registered_groups]
    return [c.replace("_", "-") for c in commands], groups


def write_bare_app(folder: Path) -> Path:
    """A Typer app that has the same commands and nothing else: the floor any Typer CLI pays."""
    commands, groups = command_names()
    lines = ["import typer", "", "app = typer.Typer(no_args_is_help=True, add_completion=False)", ""]
    for index, name in enumerate(commands):
        lines += [f"@app.command({name!r})", f"def command_{index}() -> None:", f'    """The {name} command."""', ""]
    for index, name in enumerate(groups):
        lines += [
            f"group_{index} = typer.Typer()",
            f"@group_{index}.command('list')",
            f"def group_{index}_list() -> None:",
            '    """List."""',
            f"app.add_typer(group_{index}, name={name!r}, help='The {name} commands.')",
            "",
        ]
    lines += ["def main() -> None:", "    app()", "", "if __name__ == '__main__':", "    main()", ""]
    script = folder / "bare_typer_app.py"
    script.write_text("\n".join(lines))
    return script


def launchers(folder: Path) -> tuple[list[str], list[str]]:
    """(bare, ours) argv: each app behind the same console-script launcher (see the module docstring)."""
    write_bare_app(folder)
    installed = Path(sys.executable).parent / "whatsable"
    text = installed.read_text() if installed.is_file() else ""
    if "from whatsable_cli.cli import main" not in text:
        return [sys.executable, "-m", "bare_typer_app"], [sys.executable, "-m", "whatsable_cli"]
    bare_launcher = folder / "bare-typer-app"
    bare_launcher.write_text(text.replace("from whatsable_cli.cli import main", "from bare_typer_app import main"))
    return [sys.executable, str(bare_launcher)], [sys.executable, str(installed)]


def time_pair(first: list[str], second: list[str], runs: int, cwd: Path) -> tuple[list[float], list[float]]:
    """Wall times of two commands run alternately (drift on a busy machine hits both alike), after a
    warm-up run of each so both start with a warm disk cache."""
    times: tuple[list[float], list[float]] = ([], [])
    for argv in (first, second):
        subprocess.run(argv, check=True, capture_output=True, cwd=cwd)
    for _ in range(runs):
        for argv, seconds in zip((first, second), times, strict=True):
            started = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True, cwd=cwd)
            seconds.append(time.perf_counter() - started)
    return times


def run(workdir: Path, *, quick: bool) -> dict[str, object]:
    runs = 5 if quick else 15
    bare_argv, our_argv = launchers(workdir)
    bare, ours = time_pair([*bare_argv, "--help"], [*our_argv, "--help"], runs, cwd=workdir)
    return {
        "metric": "start-up: --help wall time (console-script launchers)",
        "argv": {"whatsable": our_argv, "baseline": bare_argv},
        "unit": "ms",
        "whatsable": median(ours) * 1000,
        "baseline": median(bare) * 1000,
        "spread": {
            "whatsable": [min(ours) * 1000, max(ours) * 1000],
            "baseline": [min(bare) * 1000, max(bare) * 1000],
        },
        "ratio": median(ours) / median(bare),
        "target": "<= 1.3x",
        "met": median(ours) / median(bare) <= 1.3,
    }
