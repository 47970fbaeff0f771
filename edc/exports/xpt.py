"""SAS transport (XPORT version 5) files of the SDTM-like datasets, written as the subjects
stream past (a file per dataset, no dataset held in memory), and ``define.csv``.

The layout is the published SAS technical note TS-140: 80-byte header records, a 140-byte
NAMESTR per variable, then the observations (numbers as 8-byte IBM System/360 floats,
missing as ``.``; characters blank-padded), the last record blank-padded to 80 bytes. The
header dates are the snapshot's time, so the same snapshot gives the same bytes.
"""

from __future__ import annotations

import math
import struct

from edc.exports import sdtm
from edc.exports.dataset import Scope, Snapshot
from edc.exports.spool import Spool
from edc.study import current_study

RECORD = 80
MISSING = b"\x2e" + b"\x00" * 7


def ibm_float(value: float | None) -> bytes:
    """An IEEE double as the 8-byte IBM hexadecimal float of SAS transport files."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if value == 0:
        return b"\x00" * 8
    sign = 0x80 if value < 0 else 0
    mantissa, exponent = math.frexp(abs(value))  # value = m * 2**e, 0.5 <= m < 1
    exp16 = -(-exponent // 4)  # ceil(e / 4): value = f * 16**exp16, 1/16 <= f < 1
    fraction = int(mantissa * 2 ** (exponent - 4 * exp16 + 56))
    if not 0 <= exp16 + 64 <= 127:
        raise ValueError(f"{value} is outside the range of SAS transport numbers")
    return bytes([sign | (exp16 + 64)]) + fraction.to_bytes(7, "big")


def _pad(text: str, width: int) -> bytes:
    raw = text.encode("ascii", "replace")[:width]
    return raw + b" " * (width - len(raw))


def _char(value, width: int) -> bytes:
    """A character value in the dataset's encoding (UTF-8; ``define.csv`` says so); the
    length check of ``sdtm`` counts characters, the bytes must fit too."""
    raw = b"" if value is None else str(value).encode("utf-8")
    if len(raw) > width:
        raise sdtm.TooLong(f"a value of {len(raw)} bytes does not fit its length {width}")
    return raw + b" " * (width - len(raw))


def _stamp(scope: Scope) -> str:
    return scope.as_of_time.strftime("%d%b%y:%H:%M:%S").upper()


def _header(kind: str, numbers: str = "0" * 30) -> bytes:
    return _pad(f"HEADER RECORD*******{kind:<8}HEADER RECORD!!!!!!!{numbers}", RECORD)


class Writer:
    """One dataset's transport file, observations appended as they come."""

    def __init__(self, fh, domain: sdtm.Domain, stamp: str):
        self.fh = fh
        self.domain = domain
        self.rows = 0
        self.written = 0
        fh.write(_header("LIBRARY"))
        fh.write(_pad("SAS     SAS     SASLIB  9.4     X64_7PRO" + " " * 24 + stamp, RECORD))
        fh.write(_pad(stamp, RECORD))
        fh.write(_header("MEMBER", "0" * 17 + "16" + "0" * 8 + "140"))
        fh.write(_header("DSCRPTR"))
        fh.write(_pad(f"SAS     {domain.name:<8}SASDATA 9.4     X64_7PRO" + " " * 24 + stamp,
                      RECORD))
        fh.write(_pad(stamp + " " * 16 + f"{domain.label[:40]:<40}" + "        ", RECORD))
        fh.write(_header("NAMESTR", f"000000{len(domain.vars):04d}" + "0" * 20))
        names = b""
        position = 0
        for n, var in enumerate(domain.vars, 1):
            length = 8 if var.type == "num" else var.length
            names += struct.pack(
                ">hhhh8s40s8shhh2s8shhl52s", 1 if var.type == "num" else 2, 0, length, n,
                _pad(var.name, 8), _pad(var.label, 40), b" " * 8, 0, 0, 0, b"  ", b" " * 8,
                0, 0, position, b"\x00" * 52)
            position += length
        self.width = position
        fh.write(names + b" " * (-len(names) % RECORD))
        fh.write(_header("OBS"))

    def add(self, row: dict) -> None:
        parts = []
        for v in self.domain.vars:
            if v.type == "num":
                parts.append(ibm_float(row[v.name]))
                continue
            try:
                parts.append(_char(row[v.name], v.length))
            except sdtm.TooLong as exc:
                raise sdtm.TooLong(f"{self.domain.name}.{v.name}: {exc}") from None
        record = b"".join(parts)
        self.fh.write(record)
        self.written += len(record)
        self.rows += 1

    def close(self) -> None:
        self.fh.write(b" " * (-self.written % RECORD))
        self.fh.close()


def write(scope: Scope, subjects: Snapshot, sp: Spool, progress) -> None:
    stamp = _stamp(scope)
    sdtm.tabulate(subjects, sp, study=current_study().oid,
                  file_name=lambda d: f"{d.name.lower()}.xpt",
                  open_writer=lambda d, name: Writer(sp.open(name, text=False), d, stamp),
                  progress=progress)
