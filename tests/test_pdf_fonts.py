"""The PDFs' Chinese font (edc_pdf.fonts): a GB 2312 subset of Noto Sans CJK SC built once
per machine, named before the system font, so that a layout worker never reads the 19 MB
collection for the common characters and a rare one still comes from the full font."""

from __future__ import annotations

import os

import pikepdf
import pytest
from babel.messages.pofile import read_po
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from edc_pdf import fonts, lay_out_here
from forms.study_build import BUILDS

CATALOG = os.path.join(os.path.dirname(__file__), "..", "edc", "translations", "zh",
                       "LC_MESSAGES", "messages.po")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EDC_PDF_FONT_CACHE", str(tmp_path / "fonts"))
    fonts.faces.cache_clear()
    yield tmp_path / "fonts"
    fonts.faces.cache_clear()


def _doc(text: str) -> str:
    return (f"<!doctype html><html lang=zh><head><meta charset=utf-8><style>"
            f"{fonts.font_face_css()} body {{ font-family: {fonts.stack('DejaVu Sans')} }}"
            f"</style></head><body><h1>病例报告 Casebook</h1><p>{text}</p></body></html>")


def _cjk_fonts(path) -> set[str]:
    names = set()
    with pikepdf.open(path) as pdf:
        for page in pdf.pages:
            for _, font in page.Resources.get("/Font", {}).items():
                if "CJK" in str(font.BaseFont):
                    names.add(str(font.BaseFont))
    return names


def test_the_subset_is_built_once_and_named_first(cache):
    made = fonts.faces()
    assert set(made) == {"normal", "bold"}
    for path in made.values():
        assert os.path.dirname(path) == str(cache)
        cmap = TTFont(path).getBestCmap()
        assert ord("病") in cmap and ord("，") in cmap
        assert len(cmap) < 8000  # a subset, not the collection's 30,000 and more
    stamps = {p: os.stat(p).st_mtime_ns for p in made.values()}
    fonts.faces.cache_clear()
    assert fonts.faces() == made
    assert {p: os.stat(p).st_mtime_ns for p in made.values()} == stamps  # not rebuilt
    assert fonts.stack("DejaVu Sans") == \
        "'DejaVu Sans', 'EDC CJK', 'Noto Sans CJK SC', sans-serif"
    assert fonts.font_face_css().count("@font-face") == 2


def test_a_character_outside_the_subset_still_comes_from_the_full_font(cache, tmp_path):
    common, rare = tmp_path / "common.pdf", tmp_path / "rare.pdf"
    lay_out_here(_doc("不良事件已核实"), str(common))
    lay_out_here(_doc("不良事件已核实 䶮"), str(rare))  # U+4DAE: not in GB 2312
    assert ord("䶮") not in fonts.charset()
    assert "不良事件已核实" in PdfReader(common).pages[0].extract_text()
    assert "䶮" in PdfReader(rare).pages[0].extract_text()
    # the common text needs one Chinese face per weight (the subset's); the rare character
    # adds the system font beside them
    assert len(_cjk_fonts(rare)) == len(_cjk_fonts(common)) + 1


def test_without_the_subset_the_stack_starts_at_the_system_font(cache, monkeypatch):
    monkeypatch.setattr(fonts, "__file__", str(cache / "absent.py"))  # the build fails
    assert fonts.faces() == {}
    assert fonts.font_face_css() == ""
    assert fonts.stack("DejaVu Sans") == "'DejaVu Sans', 'Noto Sans CJK SC', sans-serif"


def test_every_chinese_text_of_the_edc_is_in_the_subset_or_in_dejavu_sans():
    """Headings, labels and terms never need the full collection (``fonts.EXTRA`` names what
    GB 2312 lacks)."""
    covered = set(fonts.charset()) | set(
        TTFont("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").getBestCmap())
    with open(CATALOG, "rb") as fh:
        texts = [s for m in read_po(fh) for s in
                 (m.string if isinstance(m.string, (list, tuple)) else [m.string]) if s]
    for build in BUILDS.values():
        texts += [event.name_zh for event in build.events]
        for form in build.forms.values():
            texts += [form.name_zh, *(item.label_zh for item in form.items)]
        texts += [zh for codelist in build.codelists.values() for _, _, zh in codelist.terms]
    missing = {ch for text in texts for ch in text
               if not ch.isspace() and ord(ch) not in covered}
    assert not missing, sorted(missing)
