#!/usr/bin/env python3
"""A stand-in ngrok agent (stdlib only), so that the real pyngrok code path runs offline in tests."""

# Tests copy this file into tmp_path with `#!<sys.executable>` as its first line and hand it to pyngrok
# through `ngrok_path`. Behaviour is chosen by environment variables:
#   FAKE_NGROK_SCENARIO   ok (default) | 4018 | 105 | 107 | 108 | offline | offline_dns | offline_eof
#                         | offline_x509 | silent | api_error | too_old | old_api | domain_in_use
#                         | domain_not_yours (ERR_NGROK_320) | domain_not_reserved (ERR_NGROK_7118)
#   FAKE_NGROK_LOG        a JSONL file: argv, API request bodies and forwarded requests are appended to it
#   FAKE_NGROK_SESSION    a file holding the pid of the agent that owns "the account's one session":
#                         a second live agent gets ERR_NGROK_108, as on ngrok's free plan
from __future__ import annotations

import base64
import http.client
import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

SCENARIO = os.environ.get("FAKE_NGROK_SCENARIO", "ok")
OLD_API = SCENARIO in ("too_old", "old_api")  # old_api: claims 3.30 but has no /api/endpoints
LOG_PATH = os.environ.get("FAKE_NGROK_LOG")
SESSION_FILE = os.environ.get("FAKE_NGROK_SESSION")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
_log_lock = threading.Lock()
_out_lock = threading.Lock()


def record(event: str, **fields: Any) -> None:
    if not LOG_PATH:
        return
    with _log_lock, open(LOG_PATH, "a", encoding="utf-8") as log:
        log.write(json.dumps({"event": event, "pid": os.getpid(), **fields}) + "\n")


def say(lvl: str, msg: str, **fields: str) -> None:
    """One logfmt line on stdout, flushed, the way the agent logs with `--log stdout`."""
    extra = "".join(f" {k}={v}" for k, v in fields.items())
    with _out_lock:
        sys.stdout.write(f't={time.strftime("%Y-%m-%dT%H:%M:%S%z")} lvl={lvl} msg="{msg}"{extra}\n')
        sys.stdout.flush()


def quoted(text: str) -> str:
    """Quote as the agent does: newlines stay the two characters backslash-n inside the quotes."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n") + '"'


AUTH_ERRORS = {
    "4018": "authentication failed: Usage of ngrok requires a verified account and authtoken.\n\n"
    "Sign up for an account: https://dashboard.ngrok.com/signup\n"
    "Install your authtoken: https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\nERR_NGROK_4018\r\n",
    "105": "authentication failed: The authtoken you specified does not look like a proper ngrok tunnel authtoken.\n"
    "Your authtoken: {token}\nInstructions to install your authtoken are on your ngrok dashboard:\n"
    "https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\nERR_NGROK_105\r\n",
    "107": "authentication failed: The authtoken you specified is properly formed, but it is invalid.\n"
    "Your authtoken: {token}\nThis usually happens when:\n    - You reset your authtoken\n"
    "    - Your authtoken was for a team account that you were removed from\n"
    "    - You are using ngrok link and this credential was explicitly revoked\n"
    "Go to your ngrok dashboard and double check that your authtoken is correct:\n"
    "https://dashboard.ngrok.com/get-started/your-authtoken\r\n\r\nERR_NGROK_107\r\n",
    "108": "authentication failed: Your account is limited to 1 simultaneous ngrok agent sessions.\n"
    "You can run multiple simultaneous tunnels from a single agent session by defining the tunnels in your "
    "agent configuration file and starting them with the command `ngrok start --all`.\n"
    "Active ngrok agent sessions in region 'eu':\n  - ts_2abc (127.0.0.1)\r\n\r\nERR_NGROK_108\r\n",
}
ENDPOINT_ERRORS = {
    "domain_in_use": "failed to start tunnel: The endpoint '{url}' is already online. Either\n"
    "1. stop your existing endpoint first, or\n2. start both endpoints with `--pooling-enabled`"
    "\r\n\r\nERR_NGROK_334\r\n",
    "domain_not_yours": "failed to start tunnel: This domain is reserved for another account.\n"
    "Failed to create an endpoint with the domain '{host}' for the account 'fake'.\n"
    "If you have reserved this name, make sure that you are using an authtoken credential for the appropriate "
    "account.\nReserve a name on your dashboard: https://dashboard.ngrok.com/domains/new\r\n\r\nERR_NGROK_320\r\n",
    "domain_not_reserved": "failed to start tunnel: The domain '{host}' is not reserved by your account."
    "\r\n\r\nERR_NGROK_7118\r\n",
}
# What the agent keeps logging when it cannot reach ngrok's servers (it retries for ever).
OFFLINE_ERRORS = {
    "offline": 'failed to dial ngrok server with address "connect.ngrok-agent.com:443": dial tcp: '
    "lookup connect.ngrok-agent.com: no such host",
    "offline_dns": "lookup connect.ngrok-agent.com on 127.0.0.53:53: server misbehaving",
    "offline_eof": "EOF",
    "offline_x509": "x509: certificate signed by unknown authority",
}


def fail_session(code: str, token: str) -> None:
    err = quoted(AUTH_ERRORS[code].format(token=token))
    say("eror", "failed to reconnect session", obj="tunnels.session", err=err)
    say("info", "session closing", obj="tunnels.session", err=err)
    say("eror", "terminating with error", obj="app", err=err)
    say("crit", "command failed", err=err)
    sys.exit(1)


def token_from(argv: list[str]) -> str | None:
    if "--authtoken" in argv:
        return argv[argv.index("--authtoken") + 1]
    if os.environ.get("NGROK_AUTHTOKEN"):
        return os.environ["NGROK_AUTHTOKEN"]
    if "--config" in argv:
        config = Path(argv[argv.index("--config") + 1])
        for line in config.read_text(encoding="utf-8").splitlines() if config.is_file() else []:
            key, _, value = line.strip().partition(":")
            if key == "authtoken" and value.strip():
                return value.strip().strip("'\"")
    return None


def session_taken() -> bool:
    """True when another live agent holds the session file (the free plan's one agent session)."""
    if not SESSION_FILE:
        return False
    try:
        owner = int(Path(SESSION_FILE).read_text(encoding="utf-8").strip() or "0")
        if owner and owner != os.getpid():
            os.kill(owner, 0)
            # A killed agent nobody reaped yet is a zombie: its session is gone.
            if Path(f"/proc/{owner}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                return True
    except (OSError, ValueError):
        pass
    Path(SESSION_FILE).write_text(str(os.getpid()), encoding="utf-8")
    return False


class Forwarder(BaseHTTPRequestHandler):
    """The endpoint's "public" side: relays every request to the upstream, as ngrok's edge would."""

    upstream = ""
    credentials: tuple[str, ...] = ()
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        record("forward", method=self.command, path=self.path, headers=dict(self.headers.items()), body=body.decode())
        if self.credentials and not self._authorised():
            self._answer(401, {"WWW-Authenticate": 'Basic realm="ngrok"'}, b"unauthorised")
            return
        target = urlsplit(self.upstream)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers.update({"X-Forwarded-For": self.client_address[0], "X-Forwarded-Proto": "https"})
        conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port or 80, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            kept = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            self._answer(response.status, kept, payload)
        except OSError as exc:
            # What ngrok's edge answers when the upstream is down (ERR_NGROK_8012).
            self._answer(502, {"ngrok-error-code": "ERR_NGROK_8012"}, f"upstream unreachable: {exc}".encode())
        finally:
            conn.close()

    def _authorised(self) -> bool:
        scheme, _, value = (self.headers.get("Authorization") or "").partition(" ")
        try:
            given = base64.b64decode(value).decode()
        except (ValueError, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and given in self.credentials

    def _answer(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay


def basic_auth_credentials(policy: Any) -> tuple[str, ...]:
    found: list[str] = []
    for rule in (policy or {}).get("on_http_request", []) if isinstance(policy, dict) else []:
        for action in rule.get("actions", []):
            if action.get("type") == "basic-auth":
                found.extend(action.get("config", {}).get("credentials", []))
    return tuple(found)


def endpoint_name(path: str) -> str:
    return unquote(path.removeprefix("/api/endpoints/"))


class AgentApi(BaseHTTPRequestHandler):
    """The agent's local API (the inspector's address) that pyngrok talks to."""

    endpoints: ClassVar[dict[str, dict[str, Any]]] = {}
    servers: ClassVar[dict[str, ThreadingHTTPServer]] = {}
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, status: int, value: Any = None) -> None:
        payload = b"" if value is None else json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:
        if self.path.startswith("/api/endpoints") and OLD_API:
            self._json(404, {"error_code": 100, "status_code": 404, "msg": "Not Found"})
        elif self.path == "/api/endpoints":
            self._json(200, {"endpoints": list(self.endpoints.values()), "uri": "/api/endpoints"})
        elif self.path.startswith("/api/endpoints/") and endpoint_name(self.path) in self.endpoints:
            self._json(200, self.endpoints[endpoint_name(self.path)])
        elif self.path == "/api/status":
            self._json(200, {"status": "online", "session": {"status": "connected"}})
        elif self.path == "/api/requests/http":
            self._json(200, {"requests": [], "uri": "/api/requests/http"})
        else:
            self._json(404, {"error_code": 100, "status_code": 404, "msg": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        record("api", method="POST", path=self.path, body=body)
        if self.path == "/_fake/drop":
            say("eror", "failed to reconnect session", obj="tunnels.session", err=quoted("session closed by server"))
            self._json(204)
        elif self.path == "/_fake/recover":
            say("info", "client session established", obj="tunnels.session")
            say("info", "tunnel session started", obj="tunnels.session")
            self._json(204)
        elif OLD_API:
            self._json(404, {"error_code": 100, "status_code": 404, "msg": "Not Found"})
        elif SCENARIO == "api_error":
            self._json(
                400,
                {
                    "error_code": 102,
                    "status_code": 400,
                    "msg": "invalid tunnel configuration",
                    "details": {"err": "yaml: unmarshal errors:\n  field bogus not found"},
                },
            )
        elif SCENARIO in ENDPOINT_ERRORS:
            url = body.get("url", "https://example.ngrok.app")
            err = ENDPOINT_ERRORS[SCENARIO].format(url=url, host=urlsplit(url).hostname)
            self._json(
                502, {"error_code": 103, "status_code": 502, "msg": "failed to start tunnel", "details": {"err": err}}
            )
        elif self.path == "/api/endpoints":
            self._json(201, self._create(body))
        else:
            self._json(404, {"error_code": 100, "status_code": 404, "msg": "Not Found"})

    def do_DELETE(self) -> None:
        name = endpoint_name(self.path)
        record("api", method="DELETE", path=self.path)
        server = self.servers.pop(name, None)
        if self.endpoints.pop(name, None) is None or server is None:
            self._json(404, {"error_code": 100, "status_code": 404, "msg": "Not Found"})
            return
        threading.Thread(target=server.shutdown, daemon=True).start()
        self._json(204)

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("name") or str(uuid.uuid4())
        handler = type(
            "EndpointForwarder",
            (Forwarder,),
            {
                "upstream": body["upstream"]["url"],
                "credentials": basic_auth_credentials(body.get("traffic_policy")),
            },
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers[name] = server
        url = f"http://127.0.0.1:{server.server_address[1]}"
        endpoint = {
            "id": f"ep_{uuid.uuid4().hex[:12]}",
            "name": name,
            "uri": f"/api/endpoints/{name}",
            "url": url,
            "upstream": body["upstream"],
            "requested_url": body.get("url"),
        }
        self.endpoints[name] = endpoint
        return endpoint


def start(argv: list[str]) -> None:
    token = token_from(argv)
    record("start", argv=argv, token_on_argv="--authtoken" in argv, scenario=SCENARIO)
    api = ThreadingHTTPServer(("127.0.0.1", 0), AgentApi)
    api.daemon_threads = True
    threading.Thread(target=api.serve_forever, daemon=True).start()
    say("info", "starting web service", obj="web", addr=f"127.0.0.1:{api.server_address[1]}", allow_hosts="[]")
    if SCENARIO == "silent":
        threading.Event().wait()
    if not token or SCENARIO == "4018":  # 4018 with a token: e.g. one the account no longer accepts
        fail_session("4018", "")
    if SCENARIO in ("105", "107", "108"):
        fail_session(SCENARIO, token)
    if session_taken():
        fail_session("108", token)
    if SCENARIO in OFFLINE_ERRORS:
        while True:
            say("eror", "failed to reconnect session", obj="tunnels.session", err=quoted(OFFLINE_ERRORS[SCENARIO]))
            time.sleep(0.5)
    say("info", "client session established", obj="tunnels.session")
    say("info", "tunnel session started", obj="tunnels.session")
    threading.Event().wait()


def add_authtoken(argv: list[str]) -> None:
    token = argv[2]
    config = Path(argv[argv.index("--config") + 1]) if "--config" in argv else Path.home() / ".config/ngrok/ngrok.yml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'version: "3"\nagent:\n  authtoken: {token}\n', encoding="utf-8")
    print(f"Authtoken saved to configuration file: {config}")


def main(argv: list[str]) -> None:
    # The real agent stops at once on these; so must the stand-in (tests check nothing is left behind).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    signal.signal(signal.SIGINT, lambda *_: os._exit(0))
    if argv[:1] in (["--version"], ["version"]):
        print(f"ngrok version {'3.20.0' if SCENARIO == 'too_old' else '3.30.0'}")
    elif argv[:2] == ["config", "add-authtoken"]:
        add_authtoken(argv)
    elif argv[:1] == ["start"]:
        start(argv)
    else:
        print(f"fake ngrok: unsupported arguments {argv}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main(sys.argv[1:])
