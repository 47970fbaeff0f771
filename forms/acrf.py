"""The blank annotated CRF (aCRF): every form as a site would print it, annotated in red with
the ODM OIDs and CDASH/SDTM names, generated from the metadata (PDF/A-2b)."""

from __future__ import annotations

import html

from forms.metadata import StudyBuild

CSS = """
@page { size: A4; margin: 18mm 14mm 16mm;
  @top-left { content: "CAR-T EDC · annotated CRF · metadata " attr(data-version);
              font: 7pt 'DejaVu Sans', 'Noto Sans CJK SC', sans-serif; }
  @bottom-right { content: "page " counter(page) " of " counter(pages);
                  font: 7pt 'DejaVu Sans', sans-serif; } }
body { font: 8.5pt/1.3 'DejaVu Sans', 'Noto Sans CJK SC', sans-serif; }
h1 { font-size: 14pt; } h2 { font-size: 11pt; margin: 0 0 4pt; }
section { break-before: page; }
.ann { color: #c00000; font-size: 7.5pt; white-space: pre-wrap; }
table { width: 100%; border-collapse: collapse; table-layout: fixed; }
col.l { width: 42%; } col.v { width: 30%; } col.a { width: 28%; }
td { border-bottom: 0.4pt solid #999; padding: 3pt; vertical-align: top; white-space: pre-wrap; }
.box { display: inline-block; width: 40mm; border-bottom: 0.6pt solid #000; height: 9pt; }
"""


def _answer(build: StudyBuild, item) -> str:
    if item.derived:
        return "[computed by the EDC]"
    if item.codelist:
        return "\n".join(f"☐ {en} ({code})" for code, en, _ in
                         build.codelists[item.codelist].terms)
    shape = {"date": "__ __ __ __ - __ __ - __ __ (YYYY-MM-DD)", "time": "__ __ : __ __"}
    unit = f" {item.unit}" if item.unit else (f" [unit: {item.unit_item}]"
                                             if item.unit_item else "")
    return shape.get(item.type, "_" * 24) + unit


def _notes(form_oid: str, i) -> list[str]:
    """The red annotations of one item: OID, CDASH/SDTM, ranges and rules."""
    notes = [i.oid(form_oid)]
    if i.cdash:
        notes.append(f"CDASH {i.cdash}")
    if i.sdtm:
        notes.append(f"SDTM {i.sdtm}")
    if i.hard:
        notes.append(f"plausible {i.hard}")
    if i.soft:
        notes.append(f"normal {i.soft}")
    if i.required:
        notes.append("required")
    if i.required_if:
        notes.append(f"required if {i.required_if[0]} = {i.required_if[1]}")
    if i.pii:
        notes.append("PII: withheld from sponsor exports")
    if i.derived:
        notes.append(f"derived: {i.derived}")
    return notes


def acrf_html(build: StudyBuild) -> str:
    parts = [f"<!doctype html><html lang=en data-version='{build.version}'><head>"
             f"<meta charset=utf-8><title>Annotated CRF, metadata {build.version}</title>"
             f"<style>{CSS.replace('attr(data-version)', repr(build.version))}</style></head>"
             "<body><h1>Annotated case report form</h1>"
             f"<p>Metadata version {build.version}. Red: ODM item OID, CDASH and SDTM names, "
             "ranges and rules as the EDC enforces them.</p><h2>Schedule</h2><table>"]
    for e in build.events:
        window = f"D{e.day} (−{e.window[0]}/+{e.window[1]})" if e.window else ""
        parts.append(f"<tr><td>SE.{e.oid} {html.escape(e.name)}</td><td>{window}</td>"
                     f"<td>{', '.join(e.forms)}</td></tr>")
    parts.append("</table>")
    for f in build.forms.values():
        parts.append(f"<section><h2>{html.escape(f.name)} · {html.escape(f.name_zh)} "
                     f"<span class=ann>F.{f.oid}{' (repeating)' if f.repeating else ''}"
                     f"</span></h2><table><col class=l><col class=v><col class=a>")
        groups = f.item_groups()
        for g in groups:
            if len(groups) > 1:
                parts.append(f"<tr><td colspan=2><b>{html.escape(g.name)}</b></td>"
                             f"<td class=ann>{g.oid}</td></tr>")
            for i in g.items:
                notes = _notes(f.oid, i)
                label = html.escape(i.label) + (f"\n{html.escape(i.label_zh)}"
                                                if i.label_zh else "")
                parts.append(f"<tr><td>{label}</td><td>{html.escape(_answer(build, i))}</td>"
                             f"<td class=ann>{html.escape(chr(10).join(notes))}</td></tr>")
        parts.append("</table></section>")
    parts.append("</body></html>")
    return "".join(parts)


def render_acrf(build: StudyBuild, out, html_text: str | None = None) -> None:
    from weasyprint import HTML

    HTML(string=html_text or acrf_html(build)).write_pdf(out, pdf_variant="pdf/a-2b")
