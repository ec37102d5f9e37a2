"""Data docs: one self-contained HTML page per quality report, plus an index of the pages in the folder.

Why not GX's own data docs: with great-expectations 1.24 they (1) insert unexpected values into the page
unescaped -- a value like '<script>alert(1)</script>' in an id or a remittance text becomes live markup --
(2) load bootstrap, jQuery, vega and font-awesome from public CDNs, so they render bare offline and make a
reader's browser call out, and (3) file pages under run ids with wall-clock timestamps. This page has no
script, no external resource and no timestamp; every value passes through html.escape.
"""

from __future__ import annotations

import html
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from data_quality.checks import QualityReport

PAGE_PREFIX = "quality_"

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem; color: #1f2933; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
p.summary span { margin-right: 1.2rem; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #d9dee3; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.observed { font-family: ui-monospace, monospace; white-space: nowrap; }
.passed { color: #137333; } .failed.error { color: #b3261e; font-weight: 600; }
.failed.warning { color: #9a6700; font-weight: 600; } .skipped { color: #6b7280; }
.description { color: #52606d; }
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def page_name(stage: str) -> str:
    return PAGE_PREFIX + "".join(c if c.isalnum() else "_" for c in stage) + ".html"


def render_page(report: QualityReport) -> str:
    """The HTML text of one report: counts, then one table per suite in definition order."""
    suites: dict[str, list] = {}
    for row in report.rows:
        suites.setdefault(row.suite, []).append(row)
    passed = sum(r.status == "passed" for r in report.rows)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Data quality: {_e(report.stage)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Dunning Desk data quality: {_e(report.stage)} stage</h1>",
        f"<p>Warehouse as of {_e(report.as_of or 'unknown')}.</p>",
        '<p class="summary">'
        f"<span>{len(report.rows)} checks</span><span class=\"passed\">{passed} passed</span>"
        f"<span class=\"failed error\">{len(report.errors)} failed errors</span>"
        f"<span class=\"failed warning\">{len(report.warnings)} failed warnings</span>"
        f"<span class=\"skipped\">{len(report.skipped)} skipped</span></p>",
        '<p class="description">A failed <b>error</b> check stops the build before the warehouse is published; '
        "a failed <b>warning</b> is published and listed here and in quality.validation_results.</p>",
    ]
    for suite, rows in suites.items():
        parts.append(f"<h2>{_e(suite)}</h2>")
        parts.append("<table><thead><tr><th>status</th><th>severity</th><th>check</th><th>table / column</th>"
                     "<th>observed</th><th>details</th><th>expectation</th></tr></thead><tbody>")
        for r in rows:
            where = r.table_name + (f" / {r.column_name}" if r.column_name else "")
            parts.append(
                f'<tr><td class="{_e(r.status)} {_e(r.severity)}">{_e(r.status)}</td><td>{_e(r.severity)}</td>'
                f"<td>{_e(r.expectation)}<br><span class=\"description\">{_e(r.description)}</span></td>"
                f"<td>{_e(where)}</td><td class=\"observed\">{_e(r.observed_value)}</td>"
                f"<td>{_e(r.details)}</td><td>{_e(r.expectation_type)}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _write(path: Path, text: str) -> None:
    """Write atomically so a reader never sees half a page."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def render_index(folder: Path) -> Path:
    pages = sorted(p.name for p in folder.glob(f"{PAGE_PREFIX}*.html"))
    items = "".join(f'<li><a href="{_e(name)}">{_e(name.removeprefix(PAGE_PREFIX).removesuffix(".html"))}</a></li>'
                    for name in pages)
    text = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Data quality</title>'
            f"<style>{STYLE}</style></head><body><h1>Dunning Desk data quality</h1><ul>{items}</ul></body></html>\n")
    index = folder / "index.html"
    _write(index, text)
    return index


def render_data_docs(report: QualityReport, folder: Path) -> Path:
    """Write quality_<stage>.html and refresh index.html in `folder`; returns the page's path.

    A report that starts with the first stage ("raw") starts a new build: pages of later stages left by an
    earlier build are removed, so the folder never mixes two builds.
    """
    from data_quality.suites import STAGES

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if report.stages[0] == STAGES[0]:
        for stale in folder.glob(f"{PAGE_PREFIX}*.html"):
            if stale.name != page_name(report.stage):
                stale.unlink()
    page = folder / page_name(report.stage)
    _write(page, render_page(report))
    render_index(folder)
    return page
