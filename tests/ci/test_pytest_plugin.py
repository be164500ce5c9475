"""The pytest plugin: installed with the package, the `whatsable` fixture works in a fresh project with no
configuration, against an ASGI and a WSGI handler written here (no framework) and over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.support import endpoints
from whatsable_cli.testing import FORGERIES, WebhookRequests

pytest_plugins = ["pytester"]

# What a user's project holds: its own handlers, which know nothing of whatsable and verify with hmac.
HANDLERS = """
import hashlib
import hmac
import json


def _verified(secret, body, signature):
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(signature, expected)


def _answer(secret, body, signature):
    if not _verified(secret, body, signature):
        return 401, {"error": "bad signature"}
    data = json.loads(body)["data"]
    return 200, {"ok": True, "status": data.get("status"), "message_id": data.get("message_id")}


def make_asgi(secret):
    async def app(scope, receive, send):
        assert scope["type"] == "http" and scope["method"] == "POST"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        status, payload = _answer(secret, body, headers.get("x-webhook-signature", ""))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    return app


def make_wsgi(secret):
    def app(environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        status, payload = _answer(secret, body, environ.get("HTTP_X_WEBHOOK_SIGNATURE", ""))
        start_response(f"{status} {'OK' if status == 200 else 'Unauthorized'}",
                       [("Content-Type", "application/json")])
        return [json.dumps(payload).encode()]

    return app


def broken_wsgi(environ, start_response):
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"KeyError: 'status'"]
"""

USER_TESTS = """
import asyncio

import pytest

from handlers import broken_wsgi, make_asgi, make_wsgi


def test_a_status_is_accepted_by_the_asgi_app(whatsable):
    app = make_asgi(whatsable.secret)
    read = whatsable.status("read")
    whatsable.post_asgi(app, read).assert_accepted().assert_json("status", "read")


def test_an_incoming_message_is_accepted_by_the_wsgi_app(whatsable):
    app = make_wsgi(whatsable.secret)
    message = whatsable.incoming("image", set={"data.phone_number": "15550001111"})
    assert message.event == "incoming_message" and message.data["phone_number"] == "15550001111"
    assert whatsable.post_wsgi(app, message, path="/hooks/whatsable").assert_status(200).json()["ok"] is True


@pytest.mark.parametrize("how", ["tampered", "wrong_secret", "unsigned", "malformed"])
def test_forged_requests_are_refused(whatsable, how):
    forged = whatsable.forge(whatsable.status(), how)
    whatsable.post_asgi(make_asgi(whatsable.secret), forged).assert_rejected().assert_status(401)
    whatsable.post_wsgi(make_wsgi(whatsable.secret), forged).assert_rejected().assert_status(401)


def test_statuses_of_one_message(whatsable):
    app = make_asgi(whatsable.secret)
    sent = whatsable.status("sent")
    for status in ("delivered", "read"):
        later = whatsable.status(status, set=[f"data.message_id={sent.message_id}"])
        whatsable.post_asgi(app, later).assert_accepted().assert_json("message_id", sent.message_id)


def test_apost_asgi_runs_in_the_callers_loop(whatsable):
    async def scenario():
        answer = await whatsable.apost_asgi(make_asgi(whatsable.secret), whatsable.status("sent"))
        with pytest.raises(RuntimeError, match="apost_asgi"):
            whatsable.post_asgi(make_asgi(whatsable.secret), whatsable.status("sent"))
        return answer

    asyncio.run(scenario()).assert_accepted()


def test_a_broken_handler_fails_with_what_it_answered(whatsable):
    with pytest.raises(AssertionError, match=r"expected a 2xx answer .*, got 500: \\"KeyError: 'status'\\""):
        whatsable.post_wsgi(broken_wsgi, whatsable.fixture("message_status/read")).assert_accepted()
    with pytest.raises(AssertionError, match="the answer's status is \\"read\\", expected \\"sent\\""):
        whatsable.post_asgi(make_asgi(whatsable.secret), whatsable.status("read")).assert_json("status", "sent")


def test_a_fixture_is_sent_byte_for_byte(whatsable):
    from whatsable_cli.webhooks.fixtures import find_fixture

    assert whatsable.fixture("read").body == find_fixture("message_status/read").read_bytes()
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A fresh project: its own handlers and tests, no conftest, no configuration, plugins autoloaded."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(handlers=HANDLERS)
    return pytester


def test_the_fixture_works_with_no_configuration(project: pytest.Pytester) -> None:
    project.makepyfile(test_webhooks=USER_TESTS)
    result = project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=10)


def test_the_fixture_comes_from_the_installed_entry_point(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fixtures defined from whatsable_cli.testing.plugin*", "whatsable -- *"])
    disabled = project.runpytest_subprocess("-p", "no:whatsable", "-p", "no:cacheprovider", "--fixtures")
    assert "whatsable_cli.testing.plugin" not in disabled.stdout.str()


def test_a_conftest_picks_the_secret_scheme_and_seed(project: pytest.Pytester) -> None:
    """Standard Webhooks, checked by the standardwebhooks library (code nobody here wrote)."""
    project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def whatsable_secret():
            return "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

        @pytest.fixture
        def whatsable_scheme():
            return "standard"

        @pytest.fixture
        def whatsable_seed():
            return 42
        """
    )
    project.makepyfile(
        test_standard="""
        import pytest
        from standardwebhooks.webhooks import Webhook, WebhookVerificationError

        def test_signed_for_standard_webhooks(whatsable):
            request = whatsable.status("failed")
            assert whatsable.secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" and whatsable.scheme == "standard"
            Webhook(whatsable.secret).verify(request.body, request.headers)
            for how in ("stale", "future", "tampered", "wrong_secret"):
                with pytest.raises(WebhookVerificationError):
                    Webhook(whatsable.secret).verify(*(lambda r: (r.body, r.headers))(whatsable.forge(request, how)))

        def test_the_seed_gives_the_same_bodies(whatsable):
            from whatsable_cli.testing import WebhookRequests

            again = WebhookRequests(whatsable.secret, "standard", seed=42)
            assert whatsable.status("read").body == again.status("read").body
        """
    )
    project.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_post_url_over_real_http_never_follows_redirects() -> None:
    requests = WebhookRequests(secret="s3cret")
    read = requests.status("read")
    with endpoints.serve(lambda r, _: endpoints.correct("whatsable", "s3cret", r)) as endpoint:
        requests.post_url(endpoint.url, read).assert_accepted().assert_json("ok", True)
        requests.post_url(endpoint.url, requests.forge(read, "tampered")).assert_rejected().assert_status(401)
    assert endpoint.received.bodies[0] == read.body  # byte for byte
    assert endpoint.received.headers[0]["X-Webhook-Signature"] == read.headers["X-Webhook-Signature"]
    with endpoints.serve(lambda r, _: endpoints.redirects(r)) as endpoint:
        answer = requests.post_url(endpoint.url, requests.status())
    assert answer.status == 308 and answer.header("Location") == "/webhooks/whatsable/"
    assert len(endpoint.received.bodies) == 1


def test_forgeries_and_their_limits() -> None:
    requests = WebhookRequests(secret="s3cret")
    signed = requests.status("read")
    assert set(signed.headers) == {"Content-Type", "X-Webhook-Signature"}
    assert "X-Webhook-Signature" not in requests.forge(signed, "unsigned").headers
    assert requests.forge(signed, "tampered").body != signed.body
    assert "s3cret" not in repr(signed)
    for how in ("stale", "future"):
        with pytest.raises(ValueError, match="signs no timestamp"):
            requests.forge(signed, how)
    with pytest.raises(ValueError, match="unknown forgery 'bogus'"):
        requests.forge(signed, "bogus")
    fixed = WebhookRequests(scheme="whatsable-static")  # a value fixed per webhook signs no body
    with pytest.raises(ValueError, match="does not sign the body"):
        fixed.forge(fixed.status(), "tampered")
    assert set(FORGERIES) == {"tampered", "wrong_secret", "unsigned", "malformed", "stale", "future"}


def test_nothing_but_the_plugin_imports_pytest() -> None:
    code = textwrap.dedent(
        """
        import pkgutil, importlib, sys
        import whatsable_cli
        for module in pkgutil.walk_packages(whatsable_cli.__path__, "whatsable_cli."):
            if module.name not in ("whatsable_cli.testing.plugin", "whatsable_cli.__main__"):
                importlib.import_module(module.name)
        print("pytest" in sys.modules, "_pytest" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["False", "False"]
