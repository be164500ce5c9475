"""The `listen` feature: receive, record, verify, show and forward live WhatsAble webhooks."""
