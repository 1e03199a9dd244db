"""Ended console sessions, kept in the database so that signing out holds on every server
sharing it and across restarts (a session cookie is otherwise self-contained and signed)."""

from __future__ import annotations

import time
from typing import Callable

import sqlalchemy as sa

from ..store import Store, tables


class SessionService:
    """``end`` records a signed-out session id until ``expires_at`` (epoch seconds, when its
    cookie would have expired anyway); ``is_ended`` is asked on every console request."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time):
        self.store = store
        self.clock = clock

    def end(self, session_id: str, principal_arn: str, expires_at: float) -> None:
        now = self.clock()
        s = tables.ended_sessions
        with self.store.write() as conn:
            # Rows past their cookie's expiry prove nothing any more: the table stays small.
            conn.execute(s.delete().where(s.c.expires_at < now))
            if conn.execute(sa.select(s.c.session_id).where(s.c.session_id == session_id)).first():
                return
            conn.execute(s.insert().values(session_id=session_id[:64],
                                           principal_arn=principal_arn[:2048], ended_at=now,
                                           expires_at=expires_at))

    def is_ended(self, session_id: str) -> bool:
        s = tables.ended_sessions
        with self.store.read() as conn:
            return conn.execute(sa.select(s.c.session_id)
                                .where(s.c.session_id == session_id)).first() is not None
