"""CDISC Dataset-JSON 1.1 files of the SDTM-like datasets (one ``<DOMAIN>.json`` each) and
``define.csv``. Rows are written as the subjects stream past: ``rows`` first, the record
count after them (member order in a JSON object carries no meaning). The creation and
last-modified times are the snapshot's time, so the same snapshot gives the same bytes."""

from __future__ import annotations

import json

from edc.exports import sdtm
from edc.exports.dataset import Scope, Snapshot
from edc.exports.spool import Spool
from edc.study import current_study
from forms.study_build import BUILD

VERSION = "1.1.0"


def _column(domain: sdtm.Domain, var: sdtm.Var) -> dict:
    col = {"itemOID": f"IT.{domain.name}.{var.name}", "name": var.name, "label": var.label,
           "dataType": "double" if var.type == "num" else "string"}
    if var.type == "char":
        col["length"] = var.length
    if var.name in domain.keys:
        col["keySequence"] = domain.keys.index(var.name) + 1
    return col


class Writer:
    def __init__(self, fh, domain: sdtm.Domain, scope: Scope, study: str):
        self.fh = fh
        self.domain = domain
        self.rows = 0
        when = scope.as_of_time.strftime("%Y-%m-%dT%H:%M:%S")
        head = {"datasetJSONCreationDateTime": when, "datasetJSONVersion": VERSION,
                "fileOID": f"EXPORT.{study}.SEQ{scope.as_of}.{domain.name}",
                "dbLastModifiedDateTime": when, "originator": "CAR-T EDC",
                "sourceSystem": {"name": "cart-edc", "version": f"audit sequence {scope.as_of}"},
                "studyOID": study, "metaDataVersionOID": f"MDV.{BUILD.version}",
                "itemGroupOID": f"IG.{domain.name}", "name": domain.name,
                "label": domain.label,
                "columns": [_column(domain, v) for v in domain.vars]}
        fh.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "rows": [')

    def add(self, row: dict) -> None:
        self.fh.write(("\n" if not self.rows else ",\n")
                      + json.dumps([row[v.name] for v in self.domain.vars],
                                   ensure_ascii=False))
        self.rows += 1

    def close(self) -> None:
        self.fh.write(f'\n], "records": {self.rows}}}\n')
        self.fh.close()


def write(scope: Scope, subjects: Snapshot, sp: Spool, progress) -> None:
    study = current_study().oid
    sdtm.tabulate(subjects, sp, study=study, file_name=lambda d: f"{d.name}.json",
                  open_writer=lambda d, name: Writer(sp.open(name), d, scope, study),
                  progress=progress)
