"""The error hierarchy: every failure the user can cause carries an exit code, a stable code and a hint."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The documented exit codes (README, "Exit codes"); the one table the whole tool uses."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    SIGNATURE = 3
    VALIDATION = 4
    UNREACHABLE = 5
    TUNNEL = 6
    BAD_INPUT = 7
    INTERRUPTED = 130


class WhatsableError(Exception):
    """Base of every error the tool reports to the user as one line plus a hint."""

    exit_code: ExitCode = ExitCode.UNEXPECTED
    code: str = "unexpected_error"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, object]:
        """The error as `--json` output shows it: the stable code a script can branch on, and the exit code."""
        return {"code": self.code, "message": self.message, "hint": self.hint, "exit_code": int(self.exit_code)}


class BadInputError(WhatsableError):
    """A bad input file, fixture, option value or config (exit 7)."""

    exit_code = ExitCode.BAD_INPUT
    code = "bad_input"


class SignatureInvalidError(WhatsableError):
    """A signature did not verify (exit 3)."""

    exit_code = ExitCode.SIGNATURE
    code = "signature_invalid"


class ValidationFailedError(WhatsableError):
    """An endpoint answered but failed validation (exit 4)."""

    exit_code = ExitCode.VALIDATION
    code = "validation_failed"


class UnreachableError(WhatsableError):
    """An endpoint could not be reached or timed out (exit 5)."""

    exit_code = ExitCode.UNREACHABLE
    code = "unreachable"


class TunnelError(WhatsableError):
    """The ngrok tunnel could not be opened or kept (exit 6)."""

    exit_code = ExitCode.TUNNEL
    code = "tunnel_failed"


def outcome_exit_code(*, failed: int, unreachable: int) -> ExitCode:
    """The exit code of a run that sent requests (send-test, replay): one rule for both.

    A wrong answer (4) outranks a missing one (5) when a run has both: it is a definite defect of the
    endpoint, while a missing answer may be transient.
    """
    if failed:
        return ExitCode.VALIDATION
    if unreachable:
        return ExitCode.UNREACHABLE
    return ExitCode.OK
