"""The ngrok tunnel for `listen`: the only pyngrok user (imported lazily), started under our own deadline.

One class, kept whole: starting the agent under a deadline, capturing its process and stopping it share the
state pyngrok keeps per agent; errors, health, logs and the pidfile have their own modules.
"""

from __future__ import annotations

import base64
import contextlib
import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

from whatsable_cli.errors import TunnelError
from whatsable_cli.tunnel import agent as ngrok_agent
from whatsable_cli.tunnel import errors as tunnel_errors
from whatsable_cli.tunnel import pidfile as agent_pidfile
from whatsable_cli.tunnel.agent_log import capture_pyngrok_logging, last_agent_message, logged_errors
from whatsable_cli.tunnel.health import HealthWatch, NoticeSink, SelfTest, TunnelNotice, answers_404, self_test
from whatsable_cli.tunnel.settings import TunnelSettings, basic_auth_policy, normalise_domain

if TYPE_CHECKING:  # pyngrok itself is imported only when a tunnel opens
    from pyngrok.conf import PyngrokConfig
    from pyngrok.log import NgrokLog
    from pyngrok.ngrok import NgrokTunnel as PyngrokTunnel
    from pyngrok.process import NgrokProcess

__all__ = [
    "NgrokTunnel",
    "SelfTest",
    "TunnelNotice",
    "TunnelSettings",
    "basic_auth_policy",
    "install_agent",
    "normalise_domain",
]


def install_agent(path: os.PathLike[str] | str) -> None:
    """Download the ngrok agent to `path` with pyngrok's installer; its progress goes to stderr, never stdout."""
    from pyngrok import installer
    from pyngrok.exception import PyngrokError

    try:
        with contextlib.redirect_stdout(sys.stderr):  # stdout is data (`listen --json | jq`)
            installer.install_ngrok(str(path))
    except (PyngrokError, OSError) as exc:
        raise TunnelError(
            f"ngrok agent not found, and downloading it failed (no network?): {exc}",
            hint=f"install ngrok yourself ({ngrok_agent.DOWNLOAD_PAGE}) and pass --ngrok-path; or use --no-tunnel",
            code="ngrok_download_failed",
        ) from None


class NgrokTunnel:
    """Opens one ngrok endpoint to a local port; `close()` removes it and stops the agent."""

    def __init__(self, settings: TunnelSettings | None = None, notify: NoticeSink | None = None) -> None:
        self.settings = settings or TunnelSettings()
        self._notify: NoticeSink = notify or (lambda notice: None)
        self.public_url: str | None = None
        self.inspector_url: str | None = None
        self.agent: ngrok_agent.AgentBinary | None = None
        self._config: PyngrokConfig | None = None
        self._token: str | None = None
        self._health: HealthWatch | None = None
        self._abort: TunnelError | None = None
        self._starting = False
        self._agent_pid: int | None = None
        self._running: NgrokProcess | None = None  # pyngrok's handle on the agent it started for us

    # -- opening ---------------------------------------------------------------------------------------
    def open(self, port: int, host: str = "127.0.0.1") -> str:
        """Check the agent, then start it and the endpoint under our deadline; return the public URL."""
        options = self._endpoint_options(port)
        config_path = ngrok_agent.default_config_path()
        token = ngrok_agent.find_authtoken(config_path)
        if token is None:  # checked first: no agent start when it cannot work anyway
            raise ngrok_agent.missing_authtoken_error(config_path)
        self._token = token.value
        agent = self._ready_agent()
        self._stop_leftover()
        self._config = self._pyngrok_config(agent, config_path)
        tunnel = self._connect_under_deadline(f"http://{host}:{port}", options)
        self.public_url = str(tunnel.public_url)
        self.inspector_url = tunnel.api_url
        if self._running is None:  # an agent that said nothing before it was ready (the lock is free now)
            self._find_running_agent()
        self._watch_health(tunnel.api_url, tunnel.uri)
        if self.settings.self_test_path is not None:
            check = self.self_test(self.settings.self_test_path)
            self._notify(TunnelNotice("info" if check.ok else "warning", f"self-test: {check.detail}"))
        return self.public_url

    def _endpoint_options(self, port: int) -> dict[str, Any]:
        options: dict[str, Any] = {"name": f"whatsable-{port}"}
        if self.settings.domain:
            options["url"] = f"https://{normalise_domain(self.settings.domain)}"
        if self.settings.basic_auth:
            options["traffic_policy"] = basic_auth_policy(self.settings.basic_auth)
        return options

    def _ready_agent(self) -> ngrok_agent.AgentBinary:
        """The agent must already be there: pyngrok would download one (progress on our stdout, no checksum)."""
        agent = ngrok_agent.find_agent(self.settings.ngrok_path)
        if not agent.exists:
            raise ngrok_agent.missing_binary_error(agent)
        ngrok_agent.require_recent(ngrok_agent.agent_version(agent), agent)
        self.agent = agent
        return agent

    def _stop_leftover(self) -> None:
        found = agent_pidfile.stop_leftover()
        if found.status == "stopped":
            self._notify(TunnelNotice("warning", f"stopped a leftover ngrok agent (pid {found.pid}) from a killed run"))
        elif found.status == "running_elsewhere":
            self._notify(
                TunnelNotice(
                    "warning",
                    f"another `whatsable listen` (pid {found.owner_pid}) runs an ngrok agent (pid {found.pid}); "
                    "a free ngrok account allows one session",
                )
            )
        elif found.status == "unstoppable":
            self._notify(TunnelNotice("warning", f"a leftover ngrok agent (pid {found.pid}) could not be stopped"))

    def _pyngrok_config(self, agent: ngrok_agent.AgentBinary, config_path: os.PathLike[str]) -> PyngrokConfig:
        from pyngrok import conf

        capture_pyngrok_logging(self._token)
        config = conf.PyngrokConfig(
            ngrok_path=str(agent.path),
            config_path=str(config_path),
            startup_timeout=max(1, int(self.settings.start_timeout) + 1),
            log_event_callback=self._on_agent_log,
            start_new_session=True,  # Ctrl-C reaches us, not the agent: we close the endpoint, then stop it
        )
        # The agent reads NGROK_AUTHTOKEN from its environment; on argv (pyngrok's way) `ps` would show it.
        config.auth_token = None
        return config

    def _connect_under_deadline(self, addr: str, options: dict[str, Any]) -> PyngrokTunnel:
        """pyngrok's own startup timeout never fires for a silent agent: run it in a thread, bound it here."""
        from pyngrok import ngrok

        opened: list[PyngrokTunnel] = []
        failed: list[Exception] = []

        def connect() -> None:
            try:
                opened.append(ngrok.connect(addr, pyngrok_config=self._config, **options))
            except Exception as exc:  # handed over to the calling thread
                failed.append(exc)

        worker = threading.Thread(target=connect, name="ngrok-start", daemon=True)
        self._starting = True
        worker.start()
        try:
            worker.join(self.settings.start_timeout)
        except BaseException:  # Ctrl-C while starting: leave no agent behind
            self._kill_agent()
            raise
        finally:
            self._starting = False
        if worker.is_alive():
            error = self._deadline_error()
            self._kill_agent()
            worker.join(5)
            raise error
        if self._abort is not None:
            self._kill_agent()
            raise self._abort
        if failed:
            self._kill_agent()
            raise self._map_error(failed[0], options)
        return opened[0]

    def _deadline_error(self) -> TunnelError:
        running = self._running
        if running is not None and running.api_url and answers_404(f"{running.api_url}/api/endpoints"):
            return tunnel_errors.too_old_error()
        said = last_agent_message()
        last = tunnel_errors.clean(said, self._token) if said is not None else "nothing"
        return TunnelError(
            f"the ngrok agent was not ready within {self.settings.start_timeout:g} s, so it was stopped "
            f"(it last said: {tunnel_errors.first_line(last)})",
            hint="run `whatsable doctor`; raise the limit with --tunnel-timeout; or use --no-tunnel",
            code="ngrok_start_timeout",
        )

    def _map_error(self, exc: Exception, options: dict[str, Any]) -> TunnelError:
        from pyngrok.exception import PyngrokNgrokError, PyngrokNgrokHTTPError

        domain = options.get("url", "").removeprefix("https://") or None
        if isinstance(exc, PyngrokNgrokHTTPError):
            if exc.status_code == 404 and "/api/endpoints" in exc.url:
                return tunnel_errors.too_old_error()
            return tunnel_errors.agent_failure(
                tunnel_errors.api_error_text(exc.body),
                self._token,
                domain=domain,
                what="the ngrok agent refused the endpoint",
            )
        if isinstance(exc, PyngrokNgrokError):
            said = [exc.ngrok_error or ""] + [log.err or log.line for log in exc.ngrok_logs] + self._unread_errors()
            coded = [text for text in said if tunnel_errors.ERROR_CODE.search(text)]
            return tunnel_errors.agent_failure((coded or said or [str(exc)])[0] or str(exc), self._token, domain=domain)
        return tunnel_errors.agent_failure(str(exc), self._token, domain=domain)

    # -- the running agent -----------------------------------------------------------------------------
    def _find_running_agent(self) -> None:
        """Keep pyngrok's handle on the agent running for our config, through its public lookup.

        Called only from pyngrok's log callback while it starts that agent (the thread that holds pyngrok's
        process lock, which is re-entrant) or once `connect()` has returned (the lock is free): never from a
        thread that would wait on a start that hangs. Checking first that the agent runs is what keeps
        `get_process` a lookup, as pyngrok's own `disconnect()` does, rather than a start of another agent.
        """
        from pyngrok import process

        config = self._config
        if config is not None and process.is_process_running(config.ngrok_path):
            self._running = process.get_process(config)

    def _kill_agent(self) -> None:
        # An agent that printed nothing at all cannot be reached here; pyngrok stops it when we exit.
        running = self._running
        if running is not None and running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait()
        self._forget_pid()

    def _forget_pid(self) -> None:
        if self._agent_pid is not None:
            agent_pidfile.remove_record(self._agent_pid)

    def _on_agent_log(self, log: NgrokLog) -> None:
        """Runs on pyngrok's threads for every agent line: pidfile, fail-fast offline, session health."""
        if self._running is None:
            self._find_running_agent()
        if self._agent_pid is None:
            self._remember_pid()
        is_error = log.lvl in ("ERROR", "CRITICAL")
        said = tunnel_errors.clean(log.err or "", self._token) if is_error else ""
        if self._starting and is_error and tunnel_errors.looks_offline(said):
            # The agent would retry for ever; one failed dial at start-up is answer enough.
            self._abort = tunnel_errors.offline_error(tunnel_errors.first_line(said))
            self._kill_agent()
        elif self._health is not None and is_error and "session" in (log.msg or ""):
            self._health.session_lost(tunnel_errors.first_line(said))
        elif self._health is not None and log.msg in ("client session established", "tunnel session started"):
            self._health.session_back()

    def _unread_errors(self) -> list[str]:
        """pyngrok stops reading once the agent has exited, at times before its error lines: read the rest."""
        proc = self._running.proc if self._running is not None else None
        if proc is None or proc.poll() is None or proc.stdout is None:
            return []  # still running: reading would block
        try:
            rest = proc.stdout.read()
        except (OSError, ValueError):
            return []
        return logged_errors(rest)

    def _remember_pid(self) -> None:
        running = self._running
        if running is not None:
            record = agent_pidfile.AgentRecord(running.proc.pid, running.pyngrok_config.ngrok_path, os.getpid())
            agent_pidfile.write_record(record)
            self._agent_pid = running.proc.pid

    def _watch_health(self, api_url: str | None, endpoint_uri: str | None) -> None:
        running = self._running
        if running is None or api_url is None:
            return
        self._health = HealthWatch(
            api_url, endpoint_uri, running.proc.poll, self._notify, self.settings.health_interval
        )
        self._health.start()

    @property
    def healthy(self) -> bool:
        return self._health is not None and self._health.healthy

    def self_test(self, path: str = "/") -> SelfTest:
        """Send one request through the public URL and check that our own listener answered it."""
        if self.public_url is None:
            return SelfTest(False, "the tunnel is not open")
        auth = self.settings.basic_auth
        authorization = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None
        return self_test(self.public_url, path, authorization=authorization)

    # -- closing ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Remove the endpoint and stop the agent (SIGTERM, then SIGKILL); safe to call more than once."""
        if self._config is None:
            return
        from pyngrok import ngrok

        if self._health is not None:
            self._health.stop()
        running = self._running
        if self.public_url and running is not None and running.proc.poll() is None:
            with contextlib.suppress(Exception):  # the agent is stopped next either way
                ngrok.disconnect(self.public_url, pyngrok_config=self._config)
        if running is not None:
            running.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):  # pyngrok's kill below escalates to SIGKILL
                running.proc.wait(timeout=3)
        ngrok.kill(pyngrok_config=self._config)
        self._forget_pid()
        self._config = None
        self._running = None
