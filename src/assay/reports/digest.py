"""The signed digest of a report: ``digest.json`` lists every file with its size and SHA-256
and the ledger seals its evidence is chained under; ``digest.sig`` is the Ed25519 signature of
digest.json's exact bytes; ``checksums.sha256`` is the same list in ``sha256sum -c`` format.

The lists are spooled to temporary files while the report is written, so their memory does not
grow with the evidence count. digest.json puts one file (and one seal) per line, so it can be
read with grep as well as with a JSON parser.
"""

from __future__ import annotations

import base64
import mmap
import os
import tempfile
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, BinaryIO, Iterator

import orjson

from . import layout

if TYPE_CHECKING:  # reports/ imports nothing of service/ at run time (service/ imports us)
    from ..service.signing import Signer

FORMAT = "assay-report-digest/v1"
ALGORITHM = "Ed25519"  # the instance key's algorithm (service.signing.ALGORITHM)


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class DigestWriter:
    def __init__(self) -> None:
        self._files = tempfile.TemporaryFile(prefix="assay-digest-files-")
        self._checksums = tempfile.TemporaryFile(prefix="assay-digest-sums-")
        self._seals = tempfile.TemporaryFile(prefix="assay-digest-seals-")
        self.file_count = 0
        self.seal_count = 0

    def add_file(self, path: str, size: int, sha256: str, **extra: Any) -> None:
        entry = {"path": path, "size": size, "sha256": sha256, **extra}
        self._files.write(b",\n" if self.file_count else b"\n")
        self._files.write(orjson.dumps(entry))
        self.file_count += 1

    def add_checksum(self, path: str, sha256: str) -> None:
        self._checksums.write(f"{sha256}  {path}\n".encode())

    def add_seal(self, seal: dict[str, Any]) -> None:
        self._seals.write(b",\n" if self.seal_count else b"\n")
        self._seals.write(orjson.dumps(seal))
        self.seal_count += 1

    def checksums(self) -> Iterator[bytes]:
        """checksums.sha256: every file written so far, for ``sha256sum -c``."""
        yield from _replay(self._checksums)

    def sign(self, header: dict[str, Any], signer: "Signer", signed_at: float
             ) -> tuple[BinaryIO, bytes]:
        """Assemble digest.json in a temporary file and sign its bytes. Returns the open file
        (positioned at 0) and the raw 64-byte signature."""
        document = {"format": FORMAT,
                    "signature": {"algorithm": ALGORITHM, "keyId": signer.key_id,
                                  "signedAt": iso(signed_at), "file": layout.SIGNATURE},
                    **header}
        out = tempfile.TemporaryFile(prefix="assay-digest-")
        out.write(b"{\n")
        for key, value in document.items():
            out.write(orjson.dumps(key) + b": " + orjson.dumps(value) + b",\n")
        out.write(b'"ledgerSeals": [')
        out.writelines(_replay(self._seals))
        out.write(b"\n],\n" if self.seal_count else b"],\n")
        out.write(b'"files": [')
        out.writelines(_replay(self._files))
        out.write(b"\n]\n}\n" if self.file_count else b"]\n}\n")
        out.flush()
        # Ed25519 signs the whole message; a file-backed map keeps it off the heap.
        with mmap.mmap(out.fileno(), 0, access=mmap.ACCESS_READ) as view:
            signature = base64.b64decode(signer.sign(view))
        out.seek(0)
        return out, signature

    def close(self) -> None:
        for spool in (self._files, self._checksums, self._seals):
            spool.close()


def _replay(spool: BinaryIO) -> Iterator[bytes]:
    spool.flush()
    spool.seek(0)
    while True:
        block = spool.read(1024 * 1024)
        if not block:
            break
        yield block
    spool.seek(0, os.SEEK_END)


def read_chunks(stream: BinaryIO, size: int = 1024 * 1024) -> Iterator[bytes]:
    while True:
        block = stream.read(size)
        if not block:
            return
        yield block
