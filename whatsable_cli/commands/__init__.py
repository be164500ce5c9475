"""The command layer: each command turns options into settings, calls one service, renders, exits."""
