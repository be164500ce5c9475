"""Watches a running tunnel (agent process, local API, session log lines) and reports drops and recoveries."""

from __future__ import annotations

import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from whatsable_cli.config import SELF_TEST_HEADER


@dataclass(frozen=True)
class TunnelNotice:
    """Something the user should see about the tunnel; the listen renderer prints it on stderr."""

    kind: Literal["info", "warning", "down", "recovered"]
    message: str


NoticeSink = Callable[[TunnelNotice], None]


class HealthWatch:
    """Polls the agent every `interval` seconds and takes session news from its log lines; reports changes only."""

    def __init__(
        self,
        api_url: str,
        endpoint_uri: str | None,
        exit_code: Callable[[], int | None],
        notify: NoticeSink,
        interval: float = 5.0,
    ) -> None:
        self._probe_url = f"{api_url}{endpoint_uri or '/api/endpoints'}"
        self._exit_code = exit_code
        self._notify = notify
        self._interval = interval
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._down_reason: str | None = None
        self._session_lost = False
        self._agent_gone = False
        self._thread: threading.Thread | None = None

    @property
    def healthy(self) -> bool:
        return self._down_reason is None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ngrok-health", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def session_lost(self, reason: str) -> None:
        """The agent logged a session error: ngrok's servers are out of reach, the public URL is dead."""
        self._session_lost = True
        self._change(f"ngrok session lost: {reason}")

    def session_back(self) -> None:
        if self._session_lost:
            self._session_lost = False
            self.check()

    def check(self) -> None:
        """One look at the agent: exited, local API silent, or fine (then only if no session error stands)."""
        if self._stop.is_set() or self._agent_gone:
            return
        code = self._exit_code()
        if code is not None:
            self._agent_gone = True
            self._change(f"the ngrok agent exited (code {code}); the public URL no longer works")
        elif not self._api_answers():
            self._change("the ngrok agent's local API stopped answering")
        elif not self._session_lost:
            self._change(None)

    def _api_answers(self) -> bool:
        try:
            with urllib.request.urlopen(self._probe_url, timeout=2) as response:  # noqa: S310 (http://127.0.0.1 only)
                return bool(200 <= response.status < 300)
        except (urllib.error.URLError, OSError):
            return False

    def _change(self, reason: str | None) -> None:
        with self._lock:
            was_down = self._down_reason is not None
            self._down_reason = reason
        if self._stop.is_set():
            return
        if reason is not None and not was_down:
            self._notify(TunnelNotice("down", f"TUNNEL DOWN: {reason}"))
        elif reason is None and was_down:
            self._notify(TunnelNotice("recovered", "TUNNEL BACK UP: the public URL works again"))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()


def answers_404(url: str) -> bool:
    """True when the agent's local API answers 404 here (an agent too old for /api/endpoints)."""
    try:
        urllib.request.urlopen(url, timeout=2).close()  # noqa: S310 (the agent's http://127.0.0.1 API)
    except urllib.error.HTTPError as exc:
        return exc.code == 404
    except (urllib.error.URLError, OSError):
        return False
    return False


@dataclass(frozen=True)
class SelfTest:
    """Whether a request sent to the public URL came back from our own listener."""

    ok: bool
    detail: str


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # never follow redirects: a redirect here means something else answered


def self_test(public_url: str, path: str = "/", *, authorization: str | None = None, timeout: float = 10.0) -> SelfTest:
    """GET the public URL with a nonce header; our listener echoes it (and does not record the request)."""
    nonce = secrets.token_hex(8)
    headers = {SELF_TEST_HEADER: nonce, "User-Agent": "whatsable-self-test"}
    if authorization:
        headers["Authorization"] = authorization
    request = urllib.request.Request(public_url.rstrip("/") + path, headers=headers, method="GET")  # noqa: S310
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            status, answer = response.status, response.headers
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.headers
    except (urllib.error.URLError, OSError) as exc:
        return SelfTest(False, f"the public URL did not answer: {getattr(exc, 'reason', exc)}")
    ngrok_code = answer.get("ngrok-error-code")
    if ngrok_code:
        return SelfTest(False, f"ngrok answered {status} ({ngrok_code}): the agent cannot reach the listener")
    if answer.get(SELF_TEST_HEADER) == nonce:
        return SelfTest(True, "a request through the public URL reached this listener")
    return SelfTest(False, f"something other than this listener answered the public URL (HTTP {status})")
