"""What WhatsAble sends and how it is signed: events, fixtures, overrides, signature schemes, redaction."""
