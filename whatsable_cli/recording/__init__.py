"""The event recording: its line format, the JSON Lines file, queries and exports."""
