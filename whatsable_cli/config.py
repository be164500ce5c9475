"""Configuration: flag > environment > whatsable.toml > default, and where the config file is found."""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from whatsable_cli.errors import BadInputError
from whatsable_cli.paths import config_dir

LOCAL_CONFIG_NAME = "whatsable.toml"

# The defaults a flag, the environment or the config file can change: here only, so help, the banner, doctor
# and the listener cannot disagree.
DEFAULT_PORT = 4242
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PATH = "/webhook"
# The local web inspector (`listen` serves it beside the listener; `whatsable inspect` alone): loopback only.
DEFAULT_INSPECT_PORT = 4243
DEFAULT_MAX_BODY = 1 << 20
# The tunnel's self-test sends a nonce in this header to the webhook path; the listener echoes it back.
SELF_TEST_HEADER = "X-Whatsable-Self-Test"
KNOWN_KEYS = frozenset(
    {"secret", "scheme", "forward_to", "routes", "domain", "port", "host", "path", "ngrok_path", "record"}
    | {"history_max_size"}
    | {"inspect_port"}
)


@dataclass
class Config:
    """The values of the config file in force (empty when there is none) and what to warn about."""

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def pick(self, flag_value: Any, key: str, default: Any = None) -> Any:
        """A flag (or its environment variable, which Typer folds into it) wins over the file."""
        if flag_value is not None and flag_value != [] and flag_value != ():
            return flag_value
        return self.values.get(key, default)

    def pick_port(
        self,
        flag_value: int | None,
        default: int,
        *,
        key: str = "port",
        what: str = "port",
        flag: str = "--port",
        example: int = DEFAULT_PORT,
    ) -> int:
        """The flag or the file's `key`: a TCP port number (0 = any free one), else bad input."""
        value = self.pick(flag_value, key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
            raise BadInputError(
                f"invalid {what} {value!r}: a port is a number from 0 to 65535",
                hint=f"e.g. {flag} {example}, or {flag} 0 for a free one",
                code="bad_port",
            )
        return value


def find_config_file(explicit: Path | None = None) -> tuple[Path | None, bool]:
    """(path, project_local): --config, else ./whatsable.toml, else the user config dir."""
    if explicit is not None:
        if not explicit.is_file():
            raise BadInputError(f"config file not found: {explicit}", hint="check --config PATH", code="config_missing")
        return explicit, explicit.resolve().parent == Path.cwd().resolve()
    local = Path.cwd() / LOCAL_CONFIG_NAME
    if local.is_file():
        return local, True
    user = config_dir() / LOCAL_CONFIG_NAME
    return (user, False) if user.is_file() else (None, False)


def load_config(explicit: Path | None = None) -> Config:
    """Read the config file in force; a malformed one is bad input (exit 7)."""
    path, project_local = find_config_file(explicit)
    if path is None:
        return Config()
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BadInputError(
            f"cannot read config {path}: {exc}",
            hint="fix the TOML, or pass another file with --config",
            code="bad_config",
        ) from None
    config = Config(path, values)
    for key in sorted(set(values) - KNOWN_KEYS):  # a typo would silently fall back to the default
        close = difflib.get_close_matches(key.replace("-", "_"), KNOWN_KEYS, n=1, cutoff=0.6)
        meant = f" (did you mean {close[0]!r}?)" if close else ""
        config.warnings.append(f"{path}: unknown key {key!r} ignored{meant}")
    if project_local and values.get("secret"):
        config.warnings.append(
            f"{path} holds a signing secret: keep it out of git (add it to .gitignore) or use WHATSABLE_SECRET"
        )
    return config
