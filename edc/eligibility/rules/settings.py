"""The study settings the rules read: windows, washout half-lives, clarifications C-1 and
C-2 (versioned data; changes are audited by edc.eligibility.settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from forms import medications


@dataclass(frozen=True)
class Settings:
    """Study settings the rules read (versioned data; changes are audited elsewhere)."""

    version: str = "settings-1"
    screening_window_days: int = 28
    hcg_window_days: int = 7
    malignancy_years: int = 5
    other_trial_months: int = 3
    # medication code -> half-life in hours (5 half-lives, rounded up to whole days)
    half_life_hours: Mapping[str, float] = field(
        default_factory=medications.reference_half_lives)
    antimalarials_count_for_washout: bool = False  # clarification C-2
    iim_either_refractory_or_progressive: bool = True  # clarification C-1

    STORED = ("screening_window_days", "hcg_window_days", "malignancy_years",
              "other_trial_months", "half_life_hours", "antimalarials_count_for_washout",
              "iim_either_refractory_or_progressive")

    @property
    def clarifications(self) -> dict[str, str]:
        """The protocol clarifications in force, as the checklist shows them."""
        return {
            "C-1": "IIM: the protocol's \"criterion 4 or 5\" is read as " + (
                "IIM-3 or IIM-4 (one is enough)" if self.iim_either_refractory_or_progressive
                else "IIM-3 and IIM-4 (both needed)"),
            "C-2": "Antimalarials " + ("count" if self.antimalarials_count_for_washout
                                       else "do not count") + " for the EX-11 washout",
        }

    def as_dict(self) -> dict:
        """The stored form (JSON-ready; the version is kept beside it)."""
        out = {name: getattr(self, name) for name in self.STORED}
        out["half_life_hours"] = dict(sorted(self.half_life_hours.items()))
        return out

    @classmethod
    def from_dict(cls, version: int, data: Mapping) -> Settings:
        """Settings of a stored version. Versions written before the medication dictionary
        keyed the half-lives by name; each name is read as the agent the dictionary gives
        it (a name it does not know stays as it is and matches no code)."""
        values = {name: data[name] for name in cls.STORED if name in data}
        if "half_life_hours" in values:
            values["half_life_hours"] = {_code(str(k)): h
                                         for k, h in values["half_life_hours"].items()}
        return cls(version=f"settings-{version}", **values)


def _code(key: str) -> str:
    """A stored half-life key as a dictionary code (older versions stored names)."""
    med = medications.get(key.upper()) or medications.resolve(key)
    return med.code if med else key
