"""The Chinese font of the PDFs: a subset of Noto Sans CJK SC (regular and bold) holding the
characters of GB 2312 — the 6,763 common simplified characters, CJK punctuation and
full-width forms — built once per machine with HarfBuzz's subsetter and kept in a cache
folder.

Why: writing a PDF, WeasyPrint reads the whole font file of every face it used and subsets
it. The system's Noto Sans CJK is a 19 MB collection of ten faces, and reading and
subsetting it took about 76 MiB for a moment in every layout worker that wrote a Chinese
heading; the 3 MB subset takes about 12 (measured, docs/monitoring.md).

The CSS stack names the subset first and the system font after it, so a character outside
GB 2312 (a rare name typed in a free-text item) still comes from the full font: nothing is
ever drawn as a blank box because of the subset.

Built in a short child process (``python -I edc_pdf/fonts.py``), so the long-lived
application and job processes never map the collection. If HarfBuzz's subsetter or the
font is missing, or the cache cannot be written, the stack simply starts at the system
font (the PDFs are the same, their workers larger).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

FAMILY = "EDC CJK"
SYSTEM_FAMILY = "Noto Sans CJK SC"
# characters of the study build's Chinese texts that GB 2312 lacks (a test keeps this complete)
EXTRA = "噁"
FACES = {"normal": "Noto Sans CJK SC:style=Regular", "bold": "Noto Sans CJK SC:style=Bold"}


def charset() -> list[int]:
    """The code points of the subset: printable ASCII, every character of GB 2312 and
    ``EXTRA``."""
    points = set(range(0x20, 0x7F)) | set(map(ord, EXTRA))
    for high in range(0xA1, 0xF8):
        for low in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                points.update(map(ord, bytes((high, low)).decode("gb2312")))
    return sorted(points)


def cache_folder() -> Path:
    """``EDC_PDF_FONT_CACHE``, else ``$XDG_CACHE_HOME/edc-pdf`` (``~/.cache/edc-pdf``)."""
    configured = os.environ.get("EDC_PDF_FONT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "edc-pdf"


def _source(pattern: str) -> tuple[str, int] | None:
    """The file and face index fontconfig gives for ``pattern``, if it is that family."""
    try:
        found = subprocess.run(  # noqa: S603
            ["fc-match", "-f", "%{family}\t%{file}\t%{index}", pattern],  # noqa: S607
            capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    families, _, rest = found.partition("\t")
    path, _, index = rest.partition("\t")
    if SYSTEM_FAMILY not in families.split(",") or not os.path.isfile(path):
        return None  # fontconfig offered a substitute: nothing to subset
    return path, int(index or 0)


def _target(path: str, index: int, weight: str, points: list[int]) -> Path:
    """The cached file's name: the source font file and face, and what the subset holds."""
    st = os.stat(path)
    key = hashlib.sha256(json.dumps([path, index, st.st_size, st.st_mtime_ns,
                                     points]).encode()).hexdigest()[:16]
    return cache_folder() / f"edc-cjk-{weight}-{key}.otf"


def _subset(path: str, index: int, points: list[int]) -> bytes:
    """HarfBuzz's subsetter, through cffi (a dependency of WeasyPrint)."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        typedef struct hb_blob_t hb_blob_t; typedef struct hb_face_t hb_face_t;
        typedef struct hb_set_t hb_set_t; typedef struct hb_subset_input_t hb_subset_input_t;
        hb_blob_t *hb_blob_create_from_file_or_fail (const char *file_name);
        const char *hb_blob_get_data (hb_blob_t *blob, unsigned int *length);
        void hb_blob_destroy (hb_blob_t *blob);
        hb_face_t *hb_face_create (hb_blob_t *blob, unsigned int index);
        hb_blob_t *hb_face_reference_blob (hb_face_t *face);
        void hb_face_destroy (hb_face_t *face);
        void hb_set_add (hb_set_t *set, uint32_t codepoint);
        hb_subset_input_t *hb_subset_input_create_or_fail (void);
        hb_set_t *hb_subset_input_unicode_set (hb_subset_input_t *input);
        void hb_subset_input_destroy (hb_subset_input_t *input);
        hb_face_t *hb_subset_or_fail (hb_face_t *source, const hb_subset_input_t *input);
    """)
    hb = ffi.dlopen("libharfbuzz.so.0")
    sub = ffi.dlopen("libharfbuzz-subset.so.0")
    blob = hb.hb_blob_create_from_file_or_fail(path.encode())
    if blob == ffi.NULL:
        raise OSError(f"cannot read {path}")
    face = hb.hb_face_create(blob, index)
    spec = sub.hb_subset_input_create_or_fail()
    try:
        unicodes = sub.hb_subset_input_unicode_set(spec)
        for point in points:
            hb.hb_set_add(unicodes, point)
        result = sub.hb_subset_or_fail(face, spec)
        if result == ffi.NULL:
            raise OSError(f"HarfBuzz could not subset {path}")
        out = hb.hb_face_reference_blob(result)
        length = ffi.new("unsigned int *")
        data = ffi.unpack(hb.hb_blob_get_data(out, length), length[0])
        hb.hb_blob_destroy(out)
        hb.hb_face_destroy(result)
        return data
    finally:
        sub.hb_subset_input_destroy(spec)
        hb.hb_face_destroy(face)
        hb.hb_blob_destroy(blob)


def build() -> dict[str, str]:
    """Build the missing subsets; the cached file of each weight that exists afterwards."""
    made: dict[str, str] = {}
    points = charset()
    for weight, pattern in FACES.items():
        source = _source(pattern)
        if source is None:
            continue
        target = _target(*source, weight, points)
        if not target.exists():
            data = _subset(*source, points)
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                os.chmod(tmp, 0o644)  # a cache other processes of the service read
                os.replace(tmp, target)  # another process building the same file is harmless
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        made[weight] = str(target)
    return made


@cache
def faces() -> dict[str, str]:
    """The subset files by weight ({} when they cannot be had), built on first use."""
    try:
        found = subprocess.run(  # noqa: S603 (our own script)
            [sys.executable, "-I", __file__], capture_output=True, text=True, timeout=300,
            check=True).stdout
        return json.loads(found)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        log.warning("PDF fonts: the Chinese subset is not available (%s); the PDFs use "
                    "the system font", type(exc).__name__)
        return {}


def font_face_css() -> str:
    """``@font-face`` rules for the subset (nothing when it is not available)."""
    return "".join(
        f"@font-face {{ font-family: '{FAMILY}'; font-weight: {weight}; "
        f"src: url({Path(path).as_uri()}); }}\n" for weight, path in faces().items())


def stack(*first: str) -> str:
    """A CSS font-family list: ``first``, then the Chinese subset, the system's Chinese
    font and the generic family."""
    names = [*first, *([FAMILY] if faces() else []), SYSTEM_FAMILY]
    return ", ".join(f"'{name}'" for name in names) + ", sans-serif"


if __name__ == "__main__":
    try:
        print(json.dumps(build()))
    except OSError as exc:
        print(f"cannot build the Chinese font subset: {exc}", file=sys.stderr)
        sys.exit(1)
