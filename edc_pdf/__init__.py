"""The one PDF pipeline of the EDC: HTML chunks laid out as PDF/A-2b files, merged with
pikepdf (keeping the first chunk's PDF/A metadata and output intent and every chunk's
bookmarks), and "Page n of m" stamped on every page once the total is known.

Long documents are laid out by a :class:`LayoutPool`: worker processes that import WeasyPrint
and nothing of the application, so each stays small, and that can be kept for many documents
(a site's casebook archive lays out every casebook in one pool). The pool is closed before
the merge, so the merge's memory never adds to the workers'.

The page stamps are drawn straight into each page's content with a small subset of DejaVu
Sans Bold embedded once (as PDF/A requires), instead of laying out a second document of m
pages: that took seconds on the critical path of a long trail.

Nothing here imports the application: the audit trail and the casebook give the HTML.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
from collections import deque
from collections.abc import Iterable
from functools import cache
from itertools import chain, islice
from pathlib import Path

INLINE_CHUNKS = 8  # documents of up to this many chunks are laid out in this process
WORKER = Path(__file__).with_name("worker.py")


class LayoutFailed(RuntimeError):
    """A chunk could not be laid out (the worker's error), or a worker stopped."""


class LayoutPool:
    """``workers`` processes running ``edc_pdf/worker.py``, each with at most ``depth``
    chunks queued. Use as a context manager; :meth:`lay_out` may be called many times."""

    def __init__(self, workers: int | None = None, depth: int = 2):
        self.size = workers or default_workers()
        self.depth = depth
        self.procs: list[subprocess.Popen] = []

    def __enter__(self) -> LayoutPool:
        for _ in range(self.size):
            self.procs.append(subprocess.Popen(  # noqa: S603 (our own script)
                [sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, text=True, encoding="utf-8", bufsize=1))
        return self

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        self.procs = []

    def lay_out(self, documents: Iterable[str], folder: str | Path) -> list[str]:
        """Lay out each HTML document as a PDF/A file in ``folder`` (which the caller
        removes); the files' paths, in the documents' order. Documents are taken from the
        iterable only as workers have room, so memory does not grow with their number. A
        failure stops the workers (answers to its chunks may still be on their way, so the
        pool cannot serve another document)."""
        if not self.procs:
            raise LayoutFailed("the layout pool is not running")
        try:
            return self._lay_out(documents, Path(folder))
        except BaseException:
            for proc in self.procs:
                proc.kill()
            self.__exit__()
            raise

    def _lay_out(self, documents: Iterable[str], folder: Path) -> list[str]:
        queued: list[deque] = [deque() for _ in self.procs]
        paths: list[str] = []
        with selectors.DefaultSelector() as sel:
            for n, proc in enumerate(self.procs):
                sel.register(proc.stdout, selectors.EVENT_READ, n)

            def collect() -> None:
                for key, _ in sel.select():
                    n = key.data
                    line = self.procs[n].stdout.readline()
                    if not line:
                        raise LayoutFailed("a layout worker stopped")
                    answer = json.loads(line)
                    index = queued[n].popleft()
                    if "error" in answer:
                        raise LayoutFailed(f"chunk {index}: {answer['error']}")

            for index, document in enumerate(documents):
                while all(len(q) >= self.depth for q in queued):
                    collect()
                n = min(range(len(queued)), key=lambda k: len(queued[k]))
                html_path = folder / f"{index:06d}.html"
                pdf_path = folder / f"{index:06d}.pdf"
                html_path.write_text(document, encoding="utf-8")
                try:
                    self.procs[n].stdin.write(json.dumps(
                        {"html": str(html_path), "pdf": str(pdf_path)}) + "\n")
                    self.procs[n].stdin.flush()
                except OSError as exc:
                    raise LayoutFailed("a layout worker stopped") from exc
                queued[n].append(index)
                paths.append(str(pdf_path))
            while any(queued):
                collect()
        for index in range(len(paths)):
            (folder / f"{index:06d}.html").unlink(missing_ok=True)
        return paths


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 4))


def lay_out_here(document: str, path: str) -> str:
    """Lay out one HTML document as PDF/A in this process."""
    from weasyprint import HTML

    HTML(string=document).write_pdf(path, pdf_variant="pdf/a-2b")
    return path


def render_documents(documents: Iterable[str], out: str | Path, *, title: str,
                     workers: int | None = None, scratch: str | Path | None = None,
                     pool: LayoutPool | None = None) -> int:
    """Lay out each HTML document (a chunk) as PDF/A, merge them, keep each chunk's
    bookmarks (its headings) at their pages, and stamp "Page n of m". Returns the number of
    pages.

    With a ``pool``, every chunk goes to it. Without one, a short document (up to
    ``INLINE_CHUNKS`` chunks) is laid out in this process, and a longer one in a pool of
    ``workers`` started for it and closed before the merge.
    """
    with tempfile.TemporaryDirectory(prefix="edc-pdf-", dir=scratch) as tmp:
        documents = iter(documents)
        if pool is not None:
            paths = pool.lay_out(documents, tmp)
        else:
            head = list(islice(documents, INLINE_CHUNKS + 1))
            if len(head) <= INLINE_CHUNKS:  # a short document: starting workers costs more
                paths = [lay_out_here(document, os.path.join(tmp, f"{i:06d}.pdf"))
                         for i, document in enumerate(head)]
            else:
                with LayoutPool(workers) as own:
                    paths = own.lay_out(chain(head, documents), tmp)
        return merge_and_stamp(paths, title, out)


def _outline_of(part) -> list[tuple[str, int, list]]:
    """A chunk's bookmarks as (title, page index in the chunk, children)."""
    index = {page.objgen: i for i, page in enumerate(part.pages)}

    def walk(items) -> list:
        out = []
        for item in items:
            dest = item.destination
            page = 0
            if dest is not None and len(dest) and hasattr(dest[0], "objgen"):
                page = index.get(dest[0].objgen, 0)
            out.append((str(item.title), page, walk(item.children)))
        return out

    with part.open_outline() as outline:
        return walk(outline.root)


def merge_and_stamp(paths: list[str], title: str, out) -> int:
    import pikepdf
    from pikepdf import OutlineItem

    marks: list[tuple[str, int, list]] = []
    with pikepdf.open(paths[0]) as merged:
        marks.extend(_outline_of(merged))
        for path in paths[1:]:
            with pikepdf.open(path) as part:
                offset = len(merged.pages)
                marks.extend(_shift(_outline_of(part), offset))
                merged.pages.extend(part.pages)
        total = len(merged.pages)
        stamp_pages(merged)
        with merged.open_outline() as outline:
            outline.root.clear()

            def add(into, items):
                for name, page, children in items:
                    node = OutlineItem(name, page)
                    add(node.children, children)
                    into.append(node)

            add(outline.root, marks)
        with merged.open_metadata(set_pikepdf_as_editor=False) as meta:
            meta["dc:title"] = title
        merged.save(out)
    return total


# "Page n of m": 9 pt DejaVu Sans Bold, centred, its baseline 37 pt below the top edge
STAMP = "Page {n} of {total}"
STAMP_SIZE = 9
STAMP_BASELINE = 37.0
STAMP_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_NAME = "EDCPAG+DejaVuSans-Bold"  # a subset: six capitals and "+" (ISO 32000 9.6.4)
STAMP_CHARS = "Page of0123456789"


def _font_file() -> str:
    if os.path.exists(STAMP_FONT):
        return STAMP_FONT
    fc_match = shutil.which("fc-match")
    found = fc_match and subprocess.run(  # noqa: S603
        [fc_match, "-f", "%{file}", "DejaVu Sans:bold"], capture_output=True, text=True,
        check=False).stdout.strip()
    if not found:
        raise LayoutFailed("DejaVu Sans Bold is not installed (Debian: fonts-dejavu-core)")
    return found


@cache
def _stamp_font() -> tuple[bytes, dict]:
    """The subset font program (TrueType) and what its PDF dictionaries need: widths per
    character code (thousandths of the size), bounding box, ascent, descent, cap height."""
    from fontTools.subset import Options, Subsetter
    from fontTools.ttLib import TTFont

    font = TTFont(_font_file())
    options = Options(notdef_outline=True, name_IDs=["*"], glyph_names=True)
    options.drop_tables += ["FFTM"]  # FontForge's time stamps: nothing a reader needs
    subsetter = Subsetter(options)
    subsetter.populate(text=STAMP_CHARS)
    subsetter.subset(font)
    data = io.BytesIO()
    font.save(data)
    scale = 1000 / font["head"].unitsPerEm
    cmap = font.getBestCmap()
    widths = {ord(c): round(font["hmtx"][cmap[ord(c)]][0] * scale) for c in set(STAMP_CHARS)}
    head, hhea, os2 = font["head"], font["hhea"], font["OS/2"]
    metrics = {"widths": widths,
               "bbox": [round(v * scale) for v in (head.xMin, head.yMin, head.xMax, head.yMax)],
               "ascent": round(hhea.ascent * scale), "descent": round(hhea.descent * scale),
               "cap_height": round(getattr(os2, "sCapHeight", hhea.ascent) * scale)}
    return data.getvalue(), metrics


def _font_dictionary(pdf):
    import pikepdf
    from pikepdf import Array, Dictionary, Name

    program, m = _stamp_font()
    first, last = min(m["widths"]), max(m["widths"])
    stream = pikepdf.Stream(pdf, program)
    stream.Length1 = len(program)
    descriptor = Dictionary(Type=Name.FontDescriptor, FontName=Name("/" + FONT_NAME),
                            Flags=32, FontBBox=Array(m["bbox"]), ItalicAngle=0,
                            Ascent=m["ascent"], Descent=m["descent"],
                            CapHeight=m["cap_height"], StemV=120, FontFile2=stream)
    return pdf.make_indirect(Dictionary(
        Type=Name.Font, Subtype=Name.TrueType, BaseFont=Name("/" + FONT_NAME),
        FirstChar=first, LastChar=last,
        Widths=Array([m["widths"].get(code, 0) for code in range(first, last + 1)]),
        Encoding=Name.WinAnsiEncoding, FontDescriptor=pdf.make_indirect(descriptor)))


def stamp_pages(pdf) -> None:
    """Draw "Page n of m" on every page of ``pdf`` (a pikepdf document). The page's own
    content is wrapped in q … Q first, so whatever state it leaves (WeasyPrint's pages flip
    the coordinates and do not restore them) does not move the stamp."""
    from pikepdf import Name

    _, m = _stamp_font()
    font = _font_dictionary(pdf)
    total = len(pdf.pages)
    opening = pdf.make_stream(b"q\n")
    for n, page in enumerate(pdf.pages, start=1):
        text = STAMP.format(n=n, total=total)
        x0, y0, x1, y1 = (float(v) for v in page.mediabox)
        width = sum(m["widths"][ord(c)] for c in text) * STAMP_SIZE / 1000
        x, y = x0 + (x1 - x0 - width) / 2, y1 - STAMP_BASELINE
        name = page.add_resource(font, Name.Font, Name("/EDCPageStamp"))
        page.contents_add(opening, prepend=True)
        page.contents_add(pdf.make_stream(
            f"Q\nq BT {name} {STAMP_SIZE} Tf 1 0 0 1 {x:.2f} {y:.2f} Tm ({text}) Tj ET Q\n"
            .encode("ascii")))


def _shift(items: list, offset: int) -> list:
    return [(name, page + offset, _shift(children, offset)) for name, page, children in items]

