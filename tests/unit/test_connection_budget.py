"""One server's share of PostgreSQL's connections: every API thread can hold a connection and
still find a second one free (a write that starts inside a read), plus the event loop's, so a
server never waits on itself; and a refusal for the server's connection limit is recognised
in each form PostgreSQL gives it, and nothing else is."""

from __future__ import annotations

import psycopg

from assay import store
from assay.api import app


def test_the_pool_has_room_for_every_api_thread_and_two_more():
    assert store.PG_POOL_SIZE + store.PG_MAX_OVERFLOW >= app.API_THREADS_POSTGRESQL + 2


def test_connection_limit_refusals_are_recognised_and_other_failures_are_not():
    refused = [
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many '
        'clients already',
        'connection to server at "127.0.0.1", port 5432 failed: FATAL:  too many connections '
        'for role "assay"',
        'FATAL:  remaining connection slots are reserved for non-replication superuser '
        'connections',
    ]
    for text in refused:
        assert store._at_connection_limit(psycopg.OperationalError(text)), text
    for text in ('connection to server at "127.0.0.1", port 5432 failed: Connection refused',
                 'FATAL:  password authentication failed for user "assay"',
                 'FATAL:  database "assay" does not exist'):
        assert not store._at_connection_limit(psycopg.OperationalError(text)), text
