"""The `send-test` feature: signed synthetic events sent to an endpoint, its answers judged (for CI)."""
