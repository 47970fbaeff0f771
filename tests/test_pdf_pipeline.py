"""The one PDF pipeline (edc_pdf): chunks laid out by a pool of small worker processes that
can be kept for many documents, merged with their bookmarks, and "Page n of m" drawn on
every page with an embedded subset font (PDF/A forbids fonts that are not embedded)."""

from __future__ import annotations

import io

import pikepdf
import pytest
from pypdf import PdfReader

from edc_pdf import INLINE_CHUNKS, LayoutFailed, LayoutPool, render_documents

CSS = "@page { size: A4 landscape; margin: 27mm 10mm 12mm } h1 { bookmark-level: 1 }"


def chunk(n: int, words: int = 300) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><style>{CSS}</style>"
            f"</head><body><h1>Chunk {n}</h1><p>{'word ' * words}</p>"
            f"<p>中文 {n}</p></body></html>")


def _fonts(pdf: pikepdf.Pdf):
    for page in pdf.pages:
        for _, font in page.Resources.get("/Font", {}).items():
            yield font


def _check(path, chunks: int) -> list[str]:
    reader = PdfReader(path)
    pages = len(reader.pages)
    texts = [page.extract_text() for page in reader.pages]
    for n, text in enumerate(texts, start=1):
        assert f"Page {n} of {pages}" in text
    assert [o.title for o in reader.outline] == [f"Chunk {n}" for n in range(chunks)]
    with pikepdf.open(path) as pdf:
        with pdf.open_metadata() as meta:
            assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        for font in _fonts(pdf):
            descriptor = font.get("/FontDescriptor") or font.DescendantFonts[0].FontDescriptor
            assert any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")), \
                font.BaseFont
        stamp = [f for f in _fonts(pdf) if str(f.BaseFont).endswith("DejaVuSans-Bold")]
        assert stamp and stamp[0].Subtype == "/TrueType"
        # the widths the stamp font declares are the font program's (PDF/A 6.2.11.5)
        assert stamp[0].Widths[ord("0") - int(stamp[0].FirstChar)] > 0
    return texts


def test_a_long_document_goes_to_a_pool_and_comes_back_in_order(tmp_path):
    n = INLINE_CHUNKS + 3
    out = tmp_path / "long.pdf"
    pages = render_documents((chunk(i) for i in range(n)), out, title="long", workers=2,
                             scratch=tmp_path)
    assert pages >= n
    texts = _check(out, n)
    assert "Chunk 0" in texts[0] and "Chunk 10" in texts[-1]
    assert list(tmp_path.glob("edc-pdf-*")) == []  # the chunks are removed


def test_a_short_document_is_laid_out_here_with_the_same_stamps(tmp_path):
    out = tmp_path / "short.pdf"
    assert render_documents([chunk(0), chunk(1)], out, title="short") >= 2
    _check(out, 2)


def test_one_pool_serves_many_documents(tmp_path):
    with LayoutPool(2) as pool:
        procs = list(pool.procs)
        pids = [p.pid for p in procs]
        for d in range(3):
            out = tmp_path / f"doc{d}.pdf"
            render_documents([chunk(i) for i in range(d + 1)], out, title=f"doc {d}",
                             pool=pool)
            _check(out, d + 1)
        assert [p.pid for p in pool.procs] == pids  # the same workers throughout
    assert [p.returncode for p in procs] == [0, 0]  # they stop at the end of their input


def test_a_worker_that_stops_fails_the_document_and_leaves_no_file(tmp_path):
    out = tmp_path / "cut.pdf"
    with LayoutPool(2) as pool:
        pool.procs[1].kill()
        pool.procs[1].wait()
        with pytest.raises(LayoutFailed, match="stopped"):
            render_documents([chunk(i) for i in range(6)], out, title="cut", pool=pool)
        # answers to the cut document may still be on their way: the pool serves no other
        assert pool.procs == []
        with pytest.raises(LayoutFailed, match="not running"):
            render_documents([chunk(0)], out, title="next", pool=pool)
    assert not out.exists()


def test_a_chunk_that_cannot_be_laid_out_is_named(tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    import edc_pdf

    # the worker answers an error for a chunk it cannot read, and goes on
    worker = subprocess.run(  # noqa: S603
        [sys.executable, "-I", str(edc_pdf.WORKER)], text=True, capture_output=True,
        input=json.dumps({"html": str(tmp_path / "gone.html"),
                          "pdf": str(tmp_path / "gone.pdf")}) + "\n", check=True)
    assert json.loads(worker.stdout)["error"].startswith("FileNotFoundError")
    # and the pool raises it, naming the chunk
    failing = tmp_path / "failing.py"
    failing.write_text("import sys\nfor line in sys.stdin:\n"
                       "    print('{\"error\": \"boom\"}', flush=True)\n")
    monkeypatch.setattr(edc_pdf, "WORKER", failing)
    with LayoutPool(1) as pool, pytest.raises(LayoutFailed, match="chunk 0: boom"):
        pool.lay_out(iter([chunk(0)]), tmp_path)


def test_the_stamp_is_on_top_of_what_the_page_leaves_in_its_graphics_state(tmp_path):
    """WeasyPrint's pages flip the coordinates and do not restore them: the stamp is drawn
    after the page's own content, wrapped in q … Q, at the top of the page."""
    out = tmp_path / "one.pdf"
    render_documents([chunk(0, words=10)], out, title="one")
    with pikepdf.open(out) as pdf:
        page = pdf.pages[0]
        ops = [op for _, op in pikepdf.parse_content_stream(page)]
        assert str(ops[0]) == "q" and "Tj" in [str(o) for o in ops[-4:]]
        height = float(page.mediabox[3])
        [tm] = [operands for operands, op in pikepdf.parse_content_stream(page)
                if str(op) == "Tm" and len(operands) == 6 and float(operands[3]) == 1][-1:]
        assert height - 40 < float(tm[5]) < height - 30
    assert PdfReader(io.BytesIO(out.read_bytes())).pages[0].extract_text().count("Page 1 of 1") \
        == 1
