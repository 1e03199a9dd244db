"""Reading request bodies with bounded memory: every route of the server that reads a body
goes through here, after it has checked who is asking (the Authorization header, a signed
link, a console session), never before.

A declared ``Content-Length`` over the cap is refused before a byte is read; a chunked body is
counted as it streams and refused the moment it passes the cap."""

from __future__ import annotations

from typing import AsyncIterator, BinaryIO

from starlette.requests import Request

from .responses import PayloadTooLarge


def refuse_declared(request: Request, limit: int, what: str = "The request body") -> None:
    """Raise ``PayloadTooLarge`` when the request says up front that its body passes ``limit``
    bytes (a malformed length is refused too: it cannot be trusted to bound anything)."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise PayloadTooLarge(f"{what}: Content-Length '{declared[:20]}' is not a number.")
    if int(declared) > limit:
        raise PayloadTooLarge(f"{what} exceeds {limit} bytes.")


async def chunks(request: Request, limit: int,
                 what: str = "The request body") -> AsyncIterator[bytes]:
    """The body's chunks as they arrive; ``PayloadTooLarge`` once more than ``limit`` bytes
    came (or were declared)."""
    refuse_declared(request, limit, what)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} exceeds {limit} bytes.")
        yield chunk


async def read(request: Request, limit: int, what: str = "The request body") -> bytes:
    """The whole body, at most ``limit`` bytes (small JSON and form bodies)."""
    return b"".join([chunk async for chunk in chunks(request, limit, what)])


async def spool(request: Request, limit: int, out: BinaryIO,
                what: str = "The request body") -> int:
    """Copy the body into ``out`` (a spooled temporary file) and return its size."""
    size = 0
    async for chunk in chunks(request, limit, what):
        out.write(chunk)
        size += len(chunk)
    return size
