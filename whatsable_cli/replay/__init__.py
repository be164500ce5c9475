"""The `replay` feature: re-send recorded or fixture payloads to any URL, streamed."""
