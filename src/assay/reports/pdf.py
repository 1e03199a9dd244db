"""AssessmentReportSummary.pdf, typeset with Typst (through its Python binding).

The data goes in as one JSON document (``sys.inputs.data``): the template only ever displays
it as text, so user input never becomes markup. Only the fonts Typst embeds are used (system
fonts are ignored), so the same report looks the same wherever it is built.

Typst memoizes everything it computes in process-wide caches that its Python binding never
evicts: each compile of new data keeps tens of megabytes. A server building report after report
would grow without end, so ``render_pdf`` typesets in a short-lived child process
(``python -m assay.reports.pdf DATA.json OUT.pdf``) whose memory is returned when it exits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

TEMPLATE = Path(__file__).parent / "templates" / "summary.typ"
TIMEOUT_SECONDS = 30 * 60


class PdfError(Exception):
    pass


def _compile(data: bytes, **options) -> Any:
    import typst

    return typst.compile(str(TEMPLATE), root=str(TEMPLATE.parent), ignore_system_fonts=True,
                         sys_inputs={"data": data.decode()}, **options)


def render_pdf(data: dict[str, Any]) -> bytes:
    """The PDF's bytes, typeset in a child process."""
    with tempfile.TemporaryDirectory(prefix="assay-pdf-") as folder:
        source, target = Path(folder) / "data.json", Path(folder) / "summary.pdf"
        source.write_bytes(orjson.dumps(data))
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ,
               "PYTHONPATH": os.pathsep.join(p for p in (package_root,
                                                         os.environ.get("PYTHONPATH")) if p)}
        done = subprocess.run([sys.executable, "-m", "assay.reports.pdf", str(source),
                               str(target)], capture_output=True, text=True, env=env,
                              timeout=TIMEOUT_SECONDS)
        if done.returncode != 0:
            detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise PdfError(f"Typesetting AssessmentReportSummary.pdf failed: {detail}")
        return target.read_bytes()


def render_pngs(data: dict[str, Any], ppi: int = 110) -> list[bytes]:
    """Every page as a PNG (to look at the design; test artifacts). In this process."""
    with tempfile.TemporaryDirectory(prefix="assay-pdf-png-") as folder:
        _compile(orjson.dumps(data), output=str(Path(folder) / "page-{0p}.png"), format="png",
                 ppi=ppi)
        return [page.read_bytes() for page in sorted(Path(folder).glob("page-*.png"))]


def main(argv: list[str]) -> int:
    source, target = argv
    try:
        pdf = _compile(Path(source).read_bytes())
    except Exception as exc:  # TypstError carries the template's diagnostics
        print(f"{type(exc).__name__}: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    Path(target).write_bytes(pdf)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
