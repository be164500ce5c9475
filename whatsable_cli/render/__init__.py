"""Renderers: the only place that uses rich and the only code that writes to the terminal."""
