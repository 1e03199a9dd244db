"""Content-addressed blob stores: evidence files, uploads and reports, named by their SHA-256.

Writes stream: a file is hashed while it is copied in chunks, so a 100 MB upload never sits in
memory. The same interface is served by a local folder (the default) and by S3.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Protocol
from urllib.parse import urlparse

CHUNK = 1024 * 1024


class BlobTooLarge(Exception):
    pass


class BlobStore(Protocol):
    def put(self, chunks: Iterable[bytes], limit: int | None = None) -> tuple[str, int]: ...
    def open(self, digest: str) -> BinaryIO: ...
    def exists(self, digest: str) -> bool: ...
    def path_hint(self, digest: str) -> str: ...


def _check_digest(digest: str) -> str:
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return digest


class LocalBlobStore:
    def __init__(self, root: Path):
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, digest: str) -> Path:
        digest = _check_digest(digest)
        return self.root / digest[:2] / digest

    def put(self, chunks: Iterable[bytes], limit: int | None = None) -> tuple[str, int]:
        """Store a stream; return (sha256, size). Refuses more than ``limit`` bytes."""
        hasher, size = hashlib.sha256(), 0
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if limit is not None and size > limit:
                        raise BlobTooLarge(f"more than {limit} bytes")
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            target = self._path(digest)
            target.parent.mkdir(exist_ok=True)
            os.replace(temp, target)  # same content, same name: a re-upload is a no-op
            return digest, size
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def open(self, digest: str) -> BinaryIO:
        return self._path(digest).open("rb")

    def exists(self, digest: str) -> bool:
        return self._path(digest).is_file()

    def path_hint(self, digest: str) -> str:
        return str(self._path(digest))


class S3BlobStore:
    """Blobs in ``s3://bucket/prefix/<sha256>``, written with boto3's managed multipart upload."""

    def __init__(self, bucket: str, prefix: str, client=None):
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client or boto3.client("s3")

    def _key(self, digest: str) -> str:
        digest = _check_digest(digest)
        return f"{self.prefix}/{digest[:2]}/{digest}" if self.prefix else f"{digest[:2]}/{digest}"

    def put(self, chunks: Iterable[bytes], limit: int | None = None) -> tuple[str, int]:
        # Hash first into a spooled temporary file (bounded memory), then upload under the hash.
        hasher, size = hashlib.sha256(), 0
        with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
            for chunk in chunks:
                size += len(chunk)
                if limit is not None and size > limit:
                    raise BlobTooLarge(f"more than {limit} bytes")
                hasher.update(chunk)
                spool.write(chunk)
            spool.seek(0)
            digest = hasher.hexdigest()
            self.client.upload_fileobj(spool, self.bucket, self._key(digest))
        return digest, size

    def open(self, digest: str) -> BinaryIO:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(digest))["Body"]

    def exists(self, digest: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(digest))
            return True
        except self.client.exceptions.ClientError:
            return False

    def path_hint(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self._key(digest)}"


def open_blob_store(url: str) -> BlobStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return LocalBlobStore(Path(parsed.path))
    if parsed.scheme == "s3":
        return S3BlobStore(parsed.netloc, parsed.path)
    raise ValueError(f"unsupported blob store URL {url!r} (use file:///path or s3://bucket/prefix)")


def read_chunks(stream: BinaryIO, size: int = CHUNK) -> Iterator[bytes]:
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        yield chunk


def sha256_of(stream: BinaryIO) -> tuple[str, int]:
    hasher, size = hashlib.sha256(), 0
    for chunk in read_chunks(stream):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size
