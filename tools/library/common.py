"""Shared helpers for the library builders in tools/library/.

The builders turn the reference material in tools/library/sources/ (NIST and FedRAMP OSCAL,
the AWS fact tables; see its README for origin, date and licence of each file) and botocore into
data files under src/assay/library/data/. Every builder
writes deterministically: running it twice gives byte-identical files.
"""
from __future__ import annotations

import csv
import functools
import gzip
import io
import re
from pathlib import Path

import orjson
import yaml

REPO = Path(__file__).resolve().parents[2]
# The builders' only inputs (besides botocore): copies of public sources kept in the repository.
SOURCES_DIR = Path(__file__).resolve().parent / "sources"
DATA_DIR = REPO / "src" / "assay" / "library" / "data"

# Files larger than this (uncompressed) are written gzip-compressed.
GZIP_THRESHOLD = 2_000_000


# libyaml's parser when PyYAML was built with it (the same documents, ~10x faster); the
# builders' determinism tests compare the output with the shipped files either way.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(stream):
    """``yaml.safe_load`` of a text or file, with the fastest safe loader available."""
    return yaml.load(stream, Loader=_YAML_LOADER)


@functools.cache
def botocore_session():
    """One botocore session for every builder in the process: it caches each service model it
    has parsed, and the builders read all ~450 of them (~5 s of JSON parsing per session)."""
    import botocore.session

    return botocore.session.get_session()


def read_source(name: str) -> bytes:
    """The bytes of tools/library/sources/<name>, stored plain or as <name>.gz.

    Raises FileNotFoundError naming the file when neither exists.
    """
    plain = SOURCES_DIR / name
    if plain.exists():
        return plain.read_bytes()
    packed = SOURCES_DIR / f"{name}.gz"
    if packed.exists():
        return gzip.decompress(packed.read_bytes())
    raise FileNotFoundError(f"{plain} (or .gz): missing source file; see tools/library/sources/README.md")


def read_tsv(name: str) -> list[dict[str, str]]:
    """Rows of a tab-separated source file as dicts, values stripped."""
    text = read_source(name).decode("utf-8")
    return [
        {k: (v or "").strip() for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text, newline=""), delimiter="\t")
    ]


def read_json(path: Path):
    return orjson.loads(path.read_bytes())


def write_data(stem: str, payload: dict, *, data_dir: Path = DATA_DIR, force_gzip: bool | None = None) -> Path:
    """Write `payload` as data_dir/<stem>.json, or <stem>.json.gz when large.

    Removes the other variant so the loader never sees two copies of the same file.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n"
    use_gzip = len(raw) > GZIP_THRESHOLD if force_gzip is None else force_gzip
    plain, packed = data_dir / f"{stem}.json", data_dir / f"{stem}.json.gz"
    if use_gzip:
        raw = orjson.dumps(payload)
        buf = io.BytesIO()
        # mtime=0 and no file name keep the bytes identical from run to run.
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(raw)
        packed.write_bytes(buf.getvalue())
        plain.unlink(missing_ok=True)
        return packed
    plain.write_bytes(raw)
    packed.unlink(missing_ok=True)
    return plain


_WS = re.compile(r"\s+")


def squash(text: str) -> str:
    """Collapse runs of whitespace into single spaces."""
    return _WS.sub(" ", text).strip()


def clip(text: str, limit: int, note: str = "") -> str:
    """Return text unchanged if it fits, else cut at a word boundary, add an ellipsis and `note`.

    The result (including the note) is at most `limit` characters.
    """
    if len(text) <= limit:
        return text
    tail = "\u2026" + (" " + note if note else "")
    room = limit - len(tail)
    if room <= 0:
        raise ValueError("note longer than limit")
    cut = text[:room]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space > room * 0.6:
        cut = cut[:space]
    cut = cut.rstrip(" ,;:\n")
    return cut + tail


def clip_sentences(text: str, limit: int) -> str:
    """Keep whole sentences while they fit in `limit`; fall back to a word-boundary cut."""
    if len(text) <= limit:
        return text
    sentences = re.split(r"(?<=[.!?])\s+(?=[A-Z(])", text)
    out = ""
    for s in sentences:
        candidate = (out + " " + s).strip()
        if len(candidate) + 2 > limit:
            break
        out = candidate
    if out:
        return out + " \u2026"
    return clip(text, limit)


def clip_lines(text: str, limit: int, note: str) -> str:
    """Shorten multi-line text (one item per line) to `limit` characters, ending with `note`.

    Whole lines are kept while they fit; the line that does not fit is cut at a word boundary
    outside any [bracketed] parameter, so no placeholder is left half-open.
    """
    if len(text) <= limit:
        return text
    tail = "\u2026 " + note
    room = limit - len(tail) - 1
    kept: list[str] = []
    used = 0
    lines = text.split("\n")
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    rest = lines[len(kept)] if len(kept) < len(lines) else ""
    space = room - used
    if rest and space > 40:
        depth = 0
        last_ok = -1
        for i, ch in enumerate(rest[:space]):
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth = max(0, depth - 1)
            elif ch == " " and depth == 0:
                last_ok = i
        if last_ok > 20:
            kept.append(rest[:last_ok].rstrip(" ,;:") + " " + tail)
            return "\n".join(kept)
    return "\n".join(kept) + "\n" + tail
