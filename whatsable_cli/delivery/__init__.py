"""Outbound HTTP shared by forwarding and replay: one aiohttp session, results classified."""
