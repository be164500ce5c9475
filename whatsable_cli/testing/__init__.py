"""Test helpers for WhatsAble webhook receivers: signed requests posted in-process or over HTTP (no pytest)."""

# pytest users get these as the `whatsable` fixture (testing/plugin.py, registered on install); anyone else
# uses WebhookRequests directly. Only the plugin module imports pytest.

from whatsable_cli.testing.answer import Answer
from whatsable_cli.testing.requests import FORGERIES, SignedRequest, WebhookRequests

__all__ = ["FORGERIES", "Answer", "SignedRequest", "WebhookRequests"]
