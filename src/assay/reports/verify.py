"""Verify a report offline: no database, no server, only the report and a trusted public key.

The signature of digest.json is checked against the key the caller trusts (never against a key
found inside the report: that would prove nothing), then every file is re-hashed and compared
with digest.json. Each problem names its file: ``missing: <path>``, ``added: <path>``,
``altered: <path>``, ``signature: ...``.
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import layout
from .digest import ALGORITHM


@dataclass
class Verification:
    signature_valid: bool = False
    algorithm: str | None = None
    key_id: str | None = None           # the key digest.json says signed it
    signed_at: str | None = None
    root: str | None = None             # the report's folder inside the zip or directory
    files_checked: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return self.signature_valid and not self.errors

    def as_dict(self) -> dict:
        return {"valid": self.valid, "signatureValid": self.signature_valid,
                "signatureAlgorithm": self.algorithm, "signatureKeyId": self.key_id,
                "signatureDateTime": self.signed_at, "root": self.root,
                "filesChecked": self.files_checked, "validationErrors": self.errors}


_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_SIGNATURE = 0x04034B50
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"


class _Zip:
    def __init__(self, source: Path | BinaryIO):
        self.archive = zipfile.ZipFile(source)

    def names(self) -> Iterator[str]:
        for info in self.archive.infolist():
            if not info.is_dir():
                yield info.filename

    def structure_problems(self) -> list[str]:
        """What makes the zip show different content to different tools, though every entry
        its central directory lists may hash right: a name listed twice (``unzip`` shows the
        first copy, ``zipfile`` the last), a directory entry carrying data, and bytes no
        central directory entry accounts for (a local entry a streaming reader would show).
        The entries must tile the archive from its first byte to the central directory."""
        problems: list[str] = []
        infos = self.archive.infolist()
        counts: dict[str, int] = {}
        for info in infos:
            counts[info.filename] = counts.get(info.filename, 0) + 1
            if info.is_dir() and (info.file_size or info.compress_size):
                problems.append(f"altered: directory entry {info.filename} carries "
                                f"{info.file_size} bytes of data")
        for name, count in counts.items():
            if count > 1:
                problems.append(f"duplicate: {name} is in the zip {count} times (tools disagree "
                                "on which copy they show)")
        stream = self.archive.fp
        position = 0
        ordered = sorted(infos, key=lambda i: i.header_offset)
        following = [i.header_offset for i in ordered[1:]] + [self.archive.start_dir]
        for info, next_offset in zip(ordered, following):
            if info.header_offset != position:
                problems.append(_gap(position, info.header_offset))
            stream.seek(info.header_offset)
            header = stream.read(_LOCAL_HEADER.size)
            if len(header) < _LOCAL_HEADER.size or \
                    _LOCAL_HEADER.unpack(header)[0] != _LOCAL_SIGNATURE:
                problems.append(f"altered: {info.filename} has no local entry where the central "
                                "directory says")
                return problems
            flags, name_length, extra_length = (_LOCAL_HEADER.unpack(header)[2],
                                                *_LOCAL_HEADER.unpack(header)[9:])
            local_name = stream.read(name_length)
            if local_name != info.orig_filename.encode("utf-8" if flags & 0x800 else "cp437"):
                problems.append(f"altered: the local entry of {info.filename} names "
                                f"{local_name.decode('utf-8', 'replace')!r}")
            position = (info.header_offset + _LOCAL_HEADER.size + name_length + extra_length
                        + info.compress_size)
            if flags & 0x08:  # a data descriptor follows: optional signature, CRC, 2 sizes
                stream.seek(position)
                position += (4 if stream.read(4) == _DESCRIPTOR_SIGNATURE else 0) + 4
                # Sizes are 4 bytes each, or 8 in ZIP64 archives: whichever meets the next entry.
                position += 16 if position + 16 == next_offset else 8
        if position != self.archive.start_dir:
            problems.append(_gap(position, self.archive.start_dir))
        return problems

    def open(self, name: str) -> BinaryIO:
        return self.archive.open(name)

    def close(self) -> None:
        self.archive.close()


def _gap(start: int, end: int) -> str:
    if end > start:
        return (f"added: {end - start} bytes at offset {start} that no central directory entry "
                "lists (a hidden local entry)")
    return f"altered: zip entries overlap at offset {end}"


class _Directory:
    def __init__(self, path: Path):
        self.base = path

    def structure_problems(self) -> list[str]:
        return []

    def names(self) -> Iterator[str]:
        for item in sorted(self.base.rglob("*")):
            if item.is_file():
                yield item.relative_to(self.base).as_posix()

    def open(self, name: str) -> BinaryIO:
        return (self.base / name).open("rb")

    def close(self) -> None:
        pass


def verify_report(source: str | Path | BinaryIO, public_key: Ed25519PublicKey) -> Verification:
    """Verify a report zip (a path or an open, seekable file), its extracted folder, or a
    folder holding one extracted report."""
    result = Verification()
    if hasattr(source, "read"):
        if not zipfile.is_zipfile(source):
            result.errors.append("the stored report is not a zip file (altered)")
            return result
        reader = _Zip(source)
    elif Path(source).is_dir():
        reader = _Directory(Path(source))
    elif Path(source).is_file() and zipfile.is_zipfile(source):
        reader = _Zip(Path(source))
    else:
        result.errors.append(f"{source}: not a report zip or folder")
        return result
    try:
        _verify(reader, isinstance(reader, _Zip), public_key, result)
    finally:
        reader.close()
    return result


def _verify(reader, is_zip: bool, public_key: Ed25519PublicKey, result: Verification) -> None:
    result.errors.extend(reader.structure_problems())
    names = list(reader.names())
    digests = [n for n in names if n == layout.DIGEST or n.endswith("/" + layout.DIGEST)]
    if len(digests) != 1:
        result.errors.append(
            f"{layout.DIGEST}: missing (not an Assay report)" if not digests else
            f"{layout.DIGEST}: {len(digests)} reports in one archive ({', '.join(digests[:5])})")
        return
    prefix = digests[0][: -len(layout.DIGEST)]
    result.root = prefix.rstrip("/") or "."

    with reader.open(digests[0]) as stream:
        raw = stream.read()
    try:
        digest = orjson.loads(raw)
        listed = {entry["path"]: entry for entry in digest["files"]}
        signature = digest.get("signature") or {}
        if len(listed) != len(digest["files"]):
            result.errors.append(f"{layout.DIGEST}: altered: a path is listed twice")
    except (orjson.JSONDecodeError, KeyError, TypeError):
        digest, listed, signature = None, {}, {}
        result.errors.append(f"{layout.DIGEST}: altered: not a valid report digest")
    result.algorithm = signature.get("algorithm")
    result.key_id = signature.get("keyId")
    result.signed_at = signature.get("signedAt")
    _check_signature(reader, prefix, names, raw, public_key, result)

    present = set()
    in_report = 0
    for name in names:
        if not name.startswith(prefix):
            if is_zip:  # an entry outside the report's folder was put in the zip afterwards
                result.errors.append(f"added: {name} (outside the report folder)")
            continue
        relative = name[len(prefix):]
        if relative in layout.UNLISTED:
            continue
        in_report += 1
        present.add(relative)
        entry = listed.get(relative)
        if entry is None:
            if digest is not None:
                result.errors.append(f"added: {relative} (not listed in {layout.DIGEST})")
            continue
        size, sha256 = _hash(reader, name)
        result.files_checked += 1
        if sha256 != entry.get("sha256") or size != entry.get("size"):
            result.errors.append(
                f"altered: {relative} (SHA-256 {sha256[:16]}…, {size} bytes; "
                f"{layout.DIGEST} lists {str(entry.get('sha256'))[:16]}…, {entry.get('size')} bytes)")
    for relative in sorted(set(listed) - present):
        result.errors.append(f"missing: {relative} (listed in {layout.DIGEST})")
    if digest is not None and in_report != len(digest["files"]):
        result.errors.append(f"count: the report holds {in_report} files; {layout.DIGEST} "
                             f"lists {len(digest['files'])}")


def _check_signature(reader, prefix: str, names: list[str], raw: bytes,
                     public_key: Ed25519PublicKey, result: Verification) -> None:
    trusted = key_id_of(public_key)
    if prefix + layout.SIGNATURE not in names:
        result.errors.append(f"missing: {layout.SIGNATURE} (the signature of {layout.DIGEST})")
        return
    if result.algorithm not in (None, ALGORITHM):
        result.errors.append(f"signature: {layout.DIGEST} names algorithm {result.algorithm!r}; "
                             f"reports are signed with {ALGORITHM}")
        return
    if result.key_id and result.key_id != trusted:
        result.errors.append(
            f"signature: {layout.SIGNATURE} was made with key {result.key_id} (named in "
            f"{layout.DIGEST}), not with the trusted key {trusted}")
        return
    with reader.open(prefix + layout.SIGNATURE) as stream:
        signature = stream.read()
    try:
        public_key.verify(signature, raw)
    except (InvalidSignature, ValueError):
        result.errors.append(
            f"signature: {layout.SIGNATURE} is not a valid signature of {layout.DIGEST} under "
            f"the trusted key {trusted}: {layout.DIGEST} or {layout.SIGNATURE} was altered, or "
            "another key signed it")
        return
    result.signature_valid = True


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """The key's id as the instance names it (``service.signing.key_id_of``): the first 16 hex
    digits of SHA-256 of its raw bytes. Repeated here so that verifying needs only this
    package and ``cryptography``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _hash(reader, name: str) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    with reader.open(name) as stream:
        while True:
            block = stream.read(1024 * 1024)
            if not block:
                break
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()
