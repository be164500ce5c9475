"""whatsable: the webhook developer tool for WhatsAble (listen, send-test, replay, verify)."""

__version__ = "0.1.0"
