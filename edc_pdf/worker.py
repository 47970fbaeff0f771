"""A layout worker: reads one job a line on standard input (JSON: the HTML file to lay out
and the PDF/A file to write), answers one line on standard output (JSON: ``{"ok": pages}``
or ``{"error": text}``), and stops at the end of its input.

Run as a script by ``edc_pdf.LayoutPool``: it imports WeasyPrint and nothing of the
application (no Flask, no database driver), so each worker stays small.
"""

from __future__ import annotations

import json
import sys


def main() -> None:
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    # one font configuration for every chunk: the fonts (the CJK ones above all) are loaded
    # once, not once a chunk (a worker laying out a casebook peaked at 445 MiB with one per
    # chunk, at 173 MiB with one shared, and ran 6 % faster)
    fonts = FontConfiguration()
    for line in sys.stdin:
        job = json.loads(line)
        try:
            with open(job["html"], encoding="utf-8") as fh:
                document = HTML(string=fh.read()).render(font_config=fonts)
            document.write_pdf(job["pdf"], pdf_variant="pdf/a-2b")
            answer = {"ok": len(document.pages)}
        except Exception as exc:  # the parent raises it, naming the chunk
            answer = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
