"""Replays sent from the inspector, kept in the history with the request they re-sent."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from whatsable_cli.delivery.results import DeliveryResult


@dataclass(frozen=True)
class ReplayRecord:
    """One replay: when, to where and with what answer; whether it was re-signed and whether edited."""

    request_id: str
    at: str
    result: DeliveryResult
    resigned: bool = False
    edited: bool = False


def add_replay(conn: sqlite3.Connection, record: ReplayRecord) -> None:
    """One statement, so its own transaction (it waits for the write lock up to the connection's busy timeout)."""
    conn.execute(
        "INSERT INTO replays (request_id, at, resigned, edited, result) VALUES (?, ?, ?, ?, ?)",
        (record.request_id, record.at, record.resigned, record.edited, json.dumps(record.result.to_dict())),
    )


def replays_of(conn: sqlite3.Connection, request_id: str) -> list[ReplayRecord]:
    """A request's replays, newest first."""
    rows = conn.execute(
        "SELECT request_id, at, resigned, edited, result FROM replays WHERE request_id = ? ORDER BY rowid DESC",
        (request_id,),
    )
    return [
        ReplayRecord(row[0], row[1], DeliveryResult.from_dict(json.loads(row[4])), bool(row[2]), bool(row[3]))
        for row in rows
    ]
