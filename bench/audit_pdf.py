"""Audit-trail PDF: the chunked parallel renderer against a naive single-document render.

    python bench/audit_pdf.py [--entries 10000] [--variants edc,single,naive]

Each variant runs in its own process (wall time and peak RSS are its own):
- naive:  one WeasyPrint document, the on-screen table (one cell per column), one process;
- single: this project's PDF template, but one document in one process (no chunks);
- edc:    `export_pdf` as the product runs it (chunks in worker processes, pikepdf merge,
          page stamps). Peak RSS is given for the main process and for the largest worker.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mib(who) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def child(mode: str, url: str, out: str) -> None:
    from bench._data import make_app
    from bench._mem import TreeSampler
    from edc.extensions import db
    from edc.trail.services import TrailFilter, export_pdf, iter_presented

    app = make_app(url)
    sampler = TreeSampler()
    sampler.start()
    with app.app_context():
        started = time.perf_counter()
        if mode == "edc":
            from edc.cli import cli_actor

            result = export_pdf(TrailFilter(), out, actor=cli_actor(), show_pii=True,
                                generated_by="bench")
            pages = result["pages"]
        else:
            from weasyprint import HTML

            rows = list(iter_presented(TrailFilter(), True))
            if mode == "naive":
                doc = naive_html(rows)
            else:
                from audit.pdf import Header, chunk_html

                doc = chunk_html(rows, Header("study", "whole study", "bench", "now",
                                              "0" * 64, len(rows), "intact"))
            document = HTML(string=doc).render()
            pages = len(document.pages)
            document.write_pdf(out, pdf_variant="pdf/a-2b")
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        db.session.remove()
    print(json.dumps({"mode": mode, "wall_s": wall, "pages": pages,
                      "rss_main_mib": _rss_mib(resource.RUSAGE_SELF),
                      "rss_worker_mib": sampler.largest_worker,
                      "rss_tree_mib": sampler.peak,
                      "bytes": os.path.getsize(out)}))


def naive_html(rows: list[dict]) -> str:
    def cell(*parts):
        return "<td>" + "<br>".join(html.escape(p) for p in parts if p) + "</td>"

    body = "".join(
        "<tr>" + cell(r["seq"]) + cell(r["time_utc"], r["time_local"]) + cell(r["user"], r["role"])
        + cell(r["action"], r["target"]) + cell(r["site"], r["subject"], r["event"], r["form"],
                                                 r["item"])
        + cell(r["old_value"], r["new_value"]) + cell(r["reason"]) + "</tr>" for r in rows)
    css = ("@page { size: A4 landscape; margin: 20mm 10mm 12mm; @top-center { content: "
           "'Audit trail, page ' counter(page) ' of ' counter(pages) } } "
           "body { font: 7.5pt sans-serif } table { width: 100%; border-collapse: collapse } "
           "td { border-bottom: 0.4pt solid #999; padding: 1.5pt 3pt; vertical-align: top }")
    return f"<html><head><style>{css}</style></head><body><table>{body}</table></body></html>"


def run(mode: str, url: str, out: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", mode, url, out],  # noqa: S603
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--variants", default="edc,single,naive",
                        help="which to run (naive is the reference for the speed-up)")
    parser.add_argument("--child", nargs=3)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from bench._data import fill, make_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.sqlite"
        fill(make_app(url), args.entries)
        results = {m: run(m, url, f"{tmp}/{m}.pdf") for m in ("edc", "single", "naive")
                   if m in args.variants.split(",")}
    print(f"Audit-trail PDF, {args.entries} entries, {os.cpu_count()} cores")
    print(f"{'variant':8} {'wall s':>8} {'pages':>6} {'main MiB':>9} {'worker MiB':>11} "
          f"{'all MiB':>8} {'MB':>6}")
    for m, r in results.items():
        print(f"{m:8} {r['wall_s']:8.1f} {r['pages']:6d} {r['rss_main_mib']:9.0f} "
              f"{r['rss_worker_mib']:11.0f} {r['rss_tree_mib']:8.0f} {r['bytes'] / 1e6:6.1f}")
    print("(main/worker: peak RSS of the process / of its largest worker; all: peak of the "
          "summed RSS of the process and its workers, sampled every 50 ms)")
    edc, naive, single = (results.get(m) for m in ("edc", "naive", "single"))
    if not (edc and naive):
        return
    print(f"speed-up over naive: {naive['wall_s'] / edc['wall_s']:.1f}x"
          + (f"; over one-document same template: {single['wall_s'] / edc['wall_s']:.1f}x"
             if single else ""))
    peak = max(edc["rss_main_mib"], edc["rss_worker_mib"])
    print(f"peak RSS of any one process: edc {peak:.0f} MiB, naive {naive['rss_main_mib']:.0f} "
          f"MiB ({naive['rss_main_mib'] / peak:.1f}x); all processes together: edc "
          f"{edc['rss_tree_mib']:.0f} MiB, naive {naive['rss_tree_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
