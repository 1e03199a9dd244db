"""nextToken / maxResults paging. Tokens are opaque to clients: base64 of the offset and of a
fingerprint of the query, so a token is refused if replayed against a different listing."""

from __future__ import annotations

import base64
import hashlib
from typing import Sequence, TypeVar

import sqlalchemy as sa

from ..store import Query
from .errors import ValidationError

T = TypeVar("T")
DEFAULT_PAGE = 100


def _fingerprint(scope: str) -> str:
    return hashlib.sha256(scope.encode()).hexdigest()[:12]


def encode_token(offset: int, scope: str) -> str:
    return base64.b64encode(f"{offset}:{_fingerprint(scope)}".encode()).decode()


def decode_token(token: str | None, scope: str) -> int:
    if not token:
        return 0
    try:
        offset, fingerprint = base64.b64decode(token, validate=True).decode().split(":")
        if fingerprint != _fingerprint(scope) or int(offset) < 0:
            raise ValueError
        return int(offset)
    except ValueError:
        raise ValidationError.field("nextToken", "The pagination token is invalid or expired.")


def page(items: Sequence[T], token: str | None, max_results: int | None, scope: str,
         default: int = DEFAULT_PAGE) -> tuple[list[T], str | None]:
    """Slice one page out of ``items`` (already filtered and ordered)."""
    offset = decode_token(token, scope)
    size = max_results or default
    chunk = list(items[offset:offset + size])
    following = offset + size
    return chunk, (encode_token(following, scope) if following < len(items) else None)


def page_query(conn, query, token: str | None, max_results: int | None, scope: str,
               default: int = DEFAULT_PAGE) -> tuple[list, str | None]:
    """One page of an ordered SQL query (a ``sa.Select``, or a ``Query`` from ``pageable``),
    without loading the rest (limit + 1 tells whether there is a next page)."""
    offset = decode_token(token, scope)
    size = max_results or default
    if isinstance(query, Query):  # built by ``pageable``
        rows = query.all(conn, page_offset=offset, page_limit=size + 1)
    else:
        rows = conn.execute(query.offset(offset).limit(size + 1)).all()
    more = len(rows) > size
    return rows[:size], (encode_token(offset + size, scope) if more else None)


def pageable(statement: sa.Select) -> Query:
    """An ordered listing as a ``Query`` (the DB-API cursor's speed, store/__init__.py) whose
    pages ``page_query`` reads: its OFFSET and LIMIT are parameters, so it is compiled once."""
    return Query(statement.offset(sa.bindparam("page_offset"))
                 .limit(sa.bindparam("page_limit")))
