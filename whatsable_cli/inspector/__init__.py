"""The local web inspector: watch, search, compare and replay the history's events in a browser (aiohttp.web)."""
