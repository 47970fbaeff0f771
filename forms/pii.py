"""Which items identify a person. Exports and audit copies for roles without
``Perm.VIEW_PII`` withhold their values.

The screening items flagged PII by spec/interfaces.md; the study-build metadata flags
further items with ``pii=True`` and registers them here.
"""

PII_ITEMS: set[str] = {"INITIALS", "BRTHDAT", "MRN"}

WITHHELD = "[withheld: identifying]"


def is_pii(item_oid: str | None) -> bool:
    return bool(item_oid) and item_oid.rsplit(".", 1)[-1] in PII_ITEMS
