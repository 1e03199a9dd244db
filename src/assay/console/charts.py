"""Server-rendered SVG charts: compliance by control domain, and checks per day.

Plain strings built from numbers the service layer returned; every label is escaped. Each chart
carries a <title> and <desc> for screen readers, and the pages show the same numbers as a table.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import Iterable, Sequence

PASS = "#2f7d57"
FAIL = "#c2412d"
OTHER = "#a3acb9"
INK = "#1f2733"
MUTED = "#5b6675"
GRID = "#e3e7ed"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def _svg(width: int, height: int, title: str, desc: str, body: Iterable[str], label: str) -> str:
    ident = label
    return (f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-labelledby="{ident}-t {ident}-d" font-family="{escape(FONT)}" '
            f'xmlns="http://www.w3.org/2000/svg">'
            f'<title id="{ident}-t">{escape(title)}</title>'
            f'<desc id="{ident}-d">{escape(desc)}</desc>'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, *, anchor: str = "start", size: int = 12,
          fill: str = INK, weight: str = "normal") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
            f'fill="{fill}" font-weight="{weight}">{escape(text)}</text>')


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for label, colour in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" rx="2" '
                   f'fill="{colour}"/>')
        out.append(_text(x + 15, y, label, size=12, fill=MUTED))
        x += 22 + 7 * len(label)
    return out


def domain_bars(domains: Sequence[dict], label: str = "domains") -> str:
    """Horizontal stacked bars, one per control domain: evidence that failed, passed and was
    inconclusive. ``domains``: dicts with name, compliant, noncompliant, inconclusive."""
    rows = list(domains)
    width, name_w, bar_x, bar_w, row_h, top = 600, 220, 228, 214, 28, 30
    height = top + max(1, len(rows)) * row_h + 6
    body = _legend(bar_x, 14, [("failed", FAIL), ("passed", PASS), ("inconclusive", OTHER)])
    if not rows:
        body.append(_text(bar_x, top + 18, "No evidence yet.", fill=MUTED))
    biggest = max((r["compliant"] + r["noncompliant"] + r["inconclusive"] for r in rows), default=0)
    for index, row in enumerate(rows):
        y = top + index * row_h
        body += _stacked_row(row["name"], y, name_w, bar_x, bar_w, biggest, [
            (row[key], colour, _word(key)) for key, colour in
            (("noncompliant", FAIL), ("compliant", PASS), ("inconclusive", OTHER))], minimum=2.0)
        body.append(_text(bar_x + bar_w + 8, y + 18, f'{row["noncompliant"]} failed',
                          size=11.5, fill=FAIL if row["noncompliant"] else MUTED))
        body.append(_text(bar_x + bar_w + 72, y + 18, f'{row["compliant"]} passed', size=11.5,
                          fill=MUTED))
    desc = "; ".join(f'{r["name"]}: {r["compliant"]} passed, {r["noncompliant"]} failed, '
                     f'{r["inconclusive"]} inconclusive' for r in rows) or "No evidence yet."
    return _svg(width, height, "Compliance by control domain", desc, body, label)


def _stacked_row(name: str, y: float, name_w: int, bar_x: int, bar_w: int, biggest: int,
                 parts: Sequence[tuple[int, str, str]], minimum: float = 0.0) -> list[str]:
    """One labelled horizontal bar: ``parts`` (value, colour, word) stacked left to right,
    scaled so that ``biggest`` fills ``bar_w``."""
    out = [_text(name_w, y + 18, _short(name, 32), anchor="end", size=11.5),
           f'<rect x="{bar_x}" y="{y + 6}" width="{bar_w}" height="16" rx="3" fill="{GRID}"/>']
    x = float(bar_x)
    for value, colour, word in parts:
        if not value or not biggest:
            continue
        w = max(minimum, bar_w * value / biggest)
        out.append(f'<rect x="{x:.1f}" y="{y + 6}" width="{w:.1f}" height="16" fill="{colour}">'
                   f'<title>{escape(name)}: {value} {word}</title></rect>')
        x += w
    return out


def _word(key: str) -> str:
    return {"compliant": "passed", "noncompliant": "failed", "inconclusive": "inconclusive"}[key]


def daily_window(by_day: dict[str, tuple[int, int]], days: int = 30,
                 today: dt.date | None = None) -> list[tuple[str, int, int]]:
    """The last ``days`` days up to today (or up to the latest day with data, if later), every
    day present, zeros where nothing was collected."""
    end = today or dt.datetime.now(dt.timezone.utc).date()
    if by_day:
        latest = dt.date.fromisoformat(max(by_day))
        end = max(end, latest)
    start = end - dt.timedelta(days=days - 1)
    out = []
    for offset in range(days):
        day = (start + dt.timedelta(days=offset)).isoformat()
        passed, failed = by_day.get(day, (0, 0))
        out.append((day, passed, failed))
    return out


def _scale(peak: int) -> tuple[int, int]:
    """A round step and the number of gridlines above zero that cover ``peak``."""
    if peak <= 4:
        return 1, max(1, peak)
    raw = peak / 5
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw:
            break
    step = int(step) if step >= 1 else 1
    return step, -(-peak // step)


def daily_checks(days: Sequence[tuple[str, int, int]], label: str = "trend",
                 title: str = "Compliance checks per day") -> str:
    """Stacked columns per day: failed checks (bottom) and passed ones."""
    width, height, left, right, top, bottom = 580, 236, 40, 8, 30, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((p + f for _, p, f in days), default=0)
    step, lines = _scale(peak)
    scale_max = step * lines
    body = _legend(left, 14, [("failed", FAIL), ("passed", PASS)])
    for i in range(lines + 1):
        value = step * i
        y = top + plot_h - plot_h * i / lines
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 6, y + 4, str(value), anchor="end", size=11, fill=MUTED))
    n = max(1, len(days))
    slot = plot_w / n
    bar = max(2.0, slot * 0.68)
    for index, (day, passed, failed) in enumerate(days):
        x = left + index * slot + (slot - bar) / 2
        base = top + plot_h
        for value, colour, word in ((failed, FAIL, "failed"), (passed, PASS, "passed")):
            if not value:
                continue
            h = plot_h * value / scale_max
            base -= h
            body.append(f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{colour}"><title>{day}: {value} {word}</title></rect>')
        if (n - 1 - index) % 7 == 0:
            body.append(_text(x + bar / 2, height - bottom + 16, day[5:], anchor="middle",
                              size=11, fill=MUTED))
    if not peak:
        body.append(_text(left + plot_w / 2, top + plot_h / 2,
                          "No compliance checks in this period.",
                          anchor="middle", fill=MUTED))
    with_data = [(d, p, f) for d, p, f in days if p or f]
    desc = ("; ".join(f"{d}: {p} passed, {f} failed" for d, p, f in with_data)
            or "No compliance checks in this period.")
    return _svg(width, height, title, desc, body, label)


def ratio_bar(passed: int, failed: int, other: int = 0) -> str:
    """A small inline bar for a table cell (decorative: the cell also says the numbers)."""
    total = passed + failed + other
    width = 96
    if not total:
        return (f'<svg class="mini" viewBox="0 0 {width} 8" width="{width}" height="8" '
                f'aria-hidden="true">'
                f'<rect width="{width}" height="8" rx="4" fill="{GRID}"/></svg>')
    parts, x = [], 0.0
    for value, colour in ((failed, FAIL), (passed, PASS), (other, OTHER)):
        if value:
            w = width * value / total
            parts.append(f'<rect x="{x:.1f}" width="{w:.1f}" height="8" fill="{colour}"/>')
            x += w
    return (f'<svg class="mini" viewBox="0 0 {width} 8" width="{width}" height="8" '
                f'aria-hidden="true">'
            f'<rect width="{width}" height="8" fill="{GRID}"/>{"".join(parts)}</svg>')


STATE_COLOURS = (("failing", "#c2412d", "failing"), ("source_failed", "#8a3ffc", "source failed"),
                 ("pending", "#a3acb9", "no evidence yet"),
                 ("manual_due", "#d08c00", "manual due"), ("accepted", "#3b6fb6", "accepted"),
                 ("passing", "#2f7d57", "passing"))


def state_bars(groups: Sequence[dict], label: str = "states",
               title: str = "Controls by evidence state, per control domain") -> str:
    """Horizontal stacked bars, one per group (control domain): how many controls are in each
    evidence state. ``groups``: dicts with ``name`` and a count per state of
    ``service.posture.STATES``."""
    rows = list(groups)
    width, name_w, bar_x, bar_w, row_h, top = 600, 220, 228, 300, 28, 48
    height = top + max(1, len(rows)) * row_h + 6
    body = _legend(8, 14, [(word, colour) for _, colour, word in STATE_COLOURS[:3]])
    body += _legend(8, 32, [(word, colour) for _, colour, word in STATE_COLOURS[3:]])
    if not rows:
        body.append(_text(bar_x, top + 18, "No controls.", fill=MUTED))
    biggest = max((sum(r.get(s, 0) for s, _, _ in STATE_COLOURS) for r in rows), default=0)
    for index, row in enumerate(rows):
        body += _stacked_row(row["name"], top + index * row_h, name_w, bar_x, bar_w, biggest,
                             [(row.get(state, 0), colour, word)
                              for state, colour, word in STATE_COLOURS])
    desc = "; ".join(row["name"] + ": " + ", ".join(
        f"{row.get(state, 0)} {word}" for state, _, word in STATE_COLOURS if row.get(state))
        for row in rows) or "No controls."
    return _svg(width, height, title, desc, body, label)


def score_line(points: Sequence[dict], label: str = "score",
               title: str = "Share of controls passing, per day") -> str:
    """A line of ``passingShare`` (0-100 %) per day, and a dashed one of ``evidenceShare``;
    days without checks leave a gap. ``points``: dicts with day, passingShare, evidenceShare."""
    width, height, left, right, top, bottom = 580, 236, 40, 8, 30, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    body = _legend(left, 14, [("passing", PASS), ("with evidence", OTHER)])
    for value in (0, 25, 50, 75, 100):
        y = top + plot_h - plot_h * value / 100
        body.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="{GRID}" stroke-width="1"/>')
        body.append(_text(left - 6, y + 4, f"{value}%", anchor="end", size=11, fill=MUTED))
    n = max(1, len(points))
    slot = plot_w / n
    for key, colour, dash in (("evidenceShare", OTHER, ' stroke-dasharray="4 3"'),
                              ("passingShare", PASS, "")):
        segment: list[str] = []
        for index, point in enumerate(list(points) + [{key: None}]):
            value = point.get(key)
            if value is None:
                if len(segment) > 1:
                    body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash}'
                                f' points="{" ".join(segment)}"/>')
                segment = []
                continue
            x = left + index * slot + slot / 2
            y = top + plot_h - plot_h * value / 100
            segment.append(f"{x:.1f},{y:.1f}")
            if key == "passingShare":
                body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                            f'<title>{point["day"]}: {value}% passing</title></circle>')
    for index, point in enumerate(points):
        if (n - 1 - index) % 7 == 0:
            body.append(_text(left + index * slot + slot / 2, height - bottom + 16,
                              point["day"][5:], anchor="middle", size=11, fill=MUTED))
    with_data = [p for p in points if p.get("passingShare") is not None]
    desc = ("; ".join(f'{p["day"]}: {p["passingShare"]}% passing' for p in with_data)
            or "No compliance checks in this period.")
    return _svg(width, height, title, desc, body, label)
