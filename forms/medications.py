"""The study's medication dictionary: every agent the eligibility rules, the washout table and
the CAR-T forms name, coded.

Prior treatments (PT) and concomitant medications (CM) store the agent's **code** (code list
``MED``), or ``OTHER`` with the name typed beside it. The rules read the code and the class,
never a typed name: an agent the dictionary does not hold cannot be mistaken for another one,
and an ``OTHER`` agent is something the rules cannot interpret (they answer ``missing``).

Each entry has its ATC code (WHO ATC index 2023; ``None`` for agents without one, such as
telitacicept), English and Chinese names, the synonyms and brand names site staff type
(searched by the pick list, never by the rules), its class, and the reference half-life of
the eligibility specification's washout table where it gives one. The half-lives in force are
study settings (versioned, keyed by code); these reference values seed version 1.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# class -> (English, Chinese, counts for EX-11 "immunosuppressant or biologic")
CLASSES: dict[str, tuple[str, str, bool]] = {
    "glucocorticoid": ("Glucocorticoid", "糖皮质激素", False),
    "alkylating": ("Alkylating agent", "烷化剂", True),
    "antimalarial": ("Antimalarial", "抗疟药", True),  # C-2 decides whether it counts
    "immunosuppressant": ("Conventional immunosuppressant", "传统免疫抑制剂", True),
    "calcineurin": ("Calcineurin inhibitor", "钙调磷酸酶抑制剂", True),
    "biologic": ("Biologic", "生物制剂", True),
    "jak": ("JAK inhibitor", "JAK抑制剂", True),
    "plasma_cell": ("Plasma-cell-directed therapy", "靶向浆细胞药物", True),
    "csf": ("Colony-stimulating factor", "集落刺激因子", False),
    "immunoglobulin": ("Immunoglobulin", "免疫球蛋白", False),
    "chemotherapy": ("Lymphodepleting chemotherapy", "清淋化疗", True),
    "anti_infective": ("Anti-infective", "抗感染药", False),
    "supportive": ("Supportive care", "支持治疗", False),
}

# Classes that are conventional treatment for the relapsed/refractory criteria (SLE-4,
# SSC-4, IIM-3, AAV-4): glucocorticoids, and "immunomodulators" (cyclophosphamide counts
# for SSc, IIM and AAV; SLE names it separately).
IMMUNOMODULATOR_CLASSES = frozenset({"alkylating", "antimalarial", "immunosuppressant",
                                     "calcineurin", "biologic", "jak", "plasma_cell"})


@dataclass(frozen=True)
class Medication:
    code: str
    atc: str | None
    en: str
    zh: str
    cls: str
    synonyms: tuple[str, ...] = ()
    half_life_hours: float | None = None  # reference value of the washout table

    @property
    def names(self) -> tuple[str, ...]:
        return (self.code, self.en, self.zh, *self.synonyms)

    @property
    def ex11(self) -> bool:
        """An immunosuppressant or biologic in the sense of EX-11."""
        return CLASSES[self.cls][2]

    @property
    def label(self) -> str:
        return f"{self.en} · {self.zh}"


def _m(code, atc, en, zh, cls, *synonyms, half_life_hours=None) -> Medication:
    return Medication(code, atc, en, zh, cls, tuple(synonyms), half_life_hours)


MEDICATIONS: tuple[Medication, ...] = (
    # glucocorticoids
    _m("PREDNISONE", "H02AB07", "prednisone", "泼尼松", "glucocorticoid", "强的松",
       "醋酸泼尼松"),
    _m("PREDNISOLONE", "H02AB06", "prednisolone", "泼尼松龙", "glucocorticoid", "强的松龙"),
    _m("METHYLPREDNISOLONE", "H02AB04", "methylprednisolone", "甲泼尼龙", "glucocorticoid",
       "甲强龙", "美卓乐", "Medrol", "Solu-Medrol", "MP"),
    _m("DEXAMETHASONE", "H02AB02", "dexamethasone", "地塞米松", "glucocorticoid", "DXM"),
    _m("HYDROCORTISONE", "H02AB09", "hydrocortisone", "氢化可的松", "glucocorticoid"),
    # alkylating
    _m("CYCLOPHOSPHAMIDE", "L01AA01", "cyclophosphamide", "环磷酰胺", "alkylating",
       "CTX", "CYC", "Endoxan", "Cytoxan", "安道生", half_life_hours=8),
    # antimalarials
    _m("HYDROXYCHLOROQUINE", "P01BA02", "hydroxychloroquine", "羟氯喹", "antimalarial",
       "HCQ", "Plaquenil", "纷乐", "硫酸羟氯喹", half_life_hours=40 * 24),
    _m("CHLOROQUINE", "P01BA01", "chloroquine", "氯喹", "antimalarial", "磷酸氯喹"),
    # conventional immunosuppressants
    _m("AZATHIOPRINE", "L04AX01", "azathioprine", "硫唑嘌呤", "immunosuppressant", "AZA",
       "Imuran", "依木兰", half_life_hours=5),
    _m("MYCOPHENOLATE_MOFETIL", "L04AA06", "mycophenolate mofetil", "吗替麦考酚酯",
       "immunosuppressant", "MMF", "CellCept", "骁悉", "霉酚酸酯",
       half_life_hours=18),
    _m("MYCOPHENOLIC_ACID", "L04AA06", "mycophenolic acid (mycophenolate sodium)", "麦考酚钠",
       "immunosuppressant", "Myfortic", "米芙", "MPA sodium"),
    _m("METHOTREXATE", "L04AX03", "methotrexate", "甲氨蝶呤", "immunosuppressant", "MTX",
       half_life_hours=15),
    _m("LEFLUNOMIDE", "L04AA13", "leflunomide", "来氟米特", "immunosuppressant", "LEF",
       "Arava", "爱若华", half_life_hours=18 * 24),
    _m("TERIFLUNOMIDE", "L04AA31", "teriflunomide", "特立氟胺", "immunosuppressant",
       "Aubagio", half_life_hours=18 * 24),
    _m("SIROLIMUS", "L04AA10", "sirolimus", "西罗莫司", "immunosuppressant", "rapamycin",
       "雷帕霉素"),
    _m("THALIDOMIDE", "L04AX02", "thalidomide", "沙利度胺", "immunosuppressant", "反应停"),
    # calcineurin inhibitors
    _m("TACROLIMUS", "L04AD02", "tacrolimus", "他克莫司", "calcineurin", "FK506", "Prograf",
       "普乐可复", half_life_hours=36),
    _m("CICLOSPORIN", "L04AD01", "ciclosporin", "环孢素", "calcineurin", "cyclosporine",
       "cyclosporin", "CsA", "Neoral", "Sandimmun", "新山地明", "环孢素A", half_life_hours=19),
    _m("VOCLOSPORIN", "L04AD03", "voclosporin", "伏环孢素", "calcineurin", "Lupkynis"),
    # biologics
    _m("RITUXIMAB", "L01FA01", "rituximab", "利妥昔单抗", "biologic", "RTX", "MabThera",
       "Rituxan", "美罗华", "汉利康", half_life_hours=22 * 24),
    _m("OBINUTUZUMAB", "L01FA03", "obinutuzumab", "奥妥珠单抗", "biologic", "Gazyva",
       "佳罗华"),
    _m("BELIMUMAB", "L04AA26", "belimumab", "贝利尤单抗", "biologic", "Benlysta", "倍力腾",
       half_life_hours=19.4 * 24),
    _m("TELITACICEPT", None, "telitacicept", "泰它西普", "biologic", "RC18", "泰爱"),
    _m("ANIFROLUMAB", "L04AA51", "anifrolumab", "阿尼鲁单抗", "biologic", "Saphnelo"),
    _m("ABATACEPT", "L04AA24", "abatacept", "阿巴西普", "biologic", "Orencia", "恩瑞舒"),
    _m("TOCILIZUMAB", "L04AC07", "tocilizumab", "托珠单抗", "biologic", "Actemra",
       "RoActemra", "雅美罗", "TCZ", half_life_hours=13 * 24),
    _m("SARILUMAB", "L04AC14", "sarilumab", "沙利鲁单抗", "biologic", "Kevzara"),
    _m("SILTUXIMAB", "L04AC11", "siltuximab", "司妥昔单抗", "biologic", "Sylvant"),
    _m("ANAKINRA", "L04AC03", "anakinra", "阿那白滞素", "biologic", "Kineret"),
    _m("CANAKINUMAB", "L04AC08", "canakinumab", "卡那奴单抗", "biologic", "Ilaris"),
    _m("ADALIMUMAB", "L04AB04", "adalimumab", "阿达木单抗", "biologic", "Humira", "修美乐"),
    _m("INFLIXIMAB", "L04AB02", "infliximab", "英夫利西单抗", "biologic", "Remicade",
       "类克"),
    _m("ETANERCEPT", "L04AB01", "etanercept", "依那西普", "biologic", "Enbrel", "恩利",
       "益赛普"),
    _m("MEPOLIZUMAB", "R03DX09", "mepolizumab", "美泊利珠单抗", "biologic", "Nucala"),
    # JAK inhibitors
    _m("TOFACITINIB", "L04AA29", "tofacitinib", "托法替布", "jak", "Xeljanz", "尚杰"),
    _m("BARICITINIB", "L04AA37", "baricitinib", "巴瑞替尼", "jak", "Olumiant", "艾乐明"),
    _m("UPADACITINIB", "L04AA44", "upadacitinib", "乌帕替尼", "jak", "Rinvoq", "瑞福"),
    _m("RUXOLITINIB", "L01EJ01", "ruxolitinib", "芦可替尼", "jak", "Jakafi", "Jakavi",
       "捷恪卫"),
    # plasma-cell-directed
    _m("BORTEZOMIB", "L01XG01", "bortezomib", "硼替佐米", "plasma_cell", "Velcade", "万珂"),
    _m("DARATUMUMAB", "L01FC01", "daratumumab", "达雷妥尤单抗", "plasma_cell", "Darzalex",
       "兆珂"),
    # supportive: cytokines, immunoglobulin
    _m("FILGRASTIM", "L03AA02", "filgrastim (G-CSF)", "重组人粒细胞集落刺激因子", "csf",
       "G-CSF", "Neupogen", "非格司亭", "瑞白", "吉赛欣"),
    _m("PEGFILGRASTIM", "L03AA13", "pegfilgrastim (PEG-G-CSF)", "聚乙二醇化重组人粒细胞刺激因子",
       "csf", "Neulasta", "培非格司亭", "新瑞白", "津优力"),
    _m("SARGRAMOSTIM", "L03AA09", "sargramostim (GM-CSF)", "重组人粒细胞巨噬细胞集落刺激因子",
       "csf", "GM-CSF", "Leukine", "沙格司亭"),
    _m("IVIG", "J06BA02", "immunoglobulin, normal human, intravascular (IVIG)",
       "静注人免疫球蛋白", "immunoglobulin", "IVIg", "丙种球蛋白", "静丙", "人免疫球蛋白"),
    # lymphodepletion
    _m("FLUDARABINE", "L01BB05", "fludarabine", "氟达拉滨", "chemotherapy", "Fludara",
       "福达华"),
    # anti-infectives and supportive care usual after CAR-T
    _m("ACICLOVIR", "J05AB01", "aciclovir", "阿昔洛韦", "anti_infective", "acyclovir",
       "Zovirax"),
    _m("VALACICLOVIR", "J05AB11", "valaciclovir", "伐昔洛韦", "anti_infective",
       "valacyclovir", "Valtrex", "明竹欣"),
    _m("COTRIMOXAZOLE", "J01EE01", "sulfamethoxazole and trimethoprim", "复方磺胺甲噁唑",
       "anti_infective", "co-trimoxazole", "TMP-SMX", "SMZ-TMP", "Bactrim", "复方新诺明"),
    _m("FLUCONAZOLE", "J02AC01", "fluconazole", "氟康唑", "anti_infective", "Diflucan",
       "大扶康"),
    _m("POSACONAZOLE", "J02AC04", "posaconazole", "泊沙康唑", "anti_infective", "Noxafil",
       "诺科飞"),
    _m("ENTECAVIR", "J05AF10", "entecavir", "恩替卡韦", "anti_infective", "Baraclude",
       "博路定"),
    _m("PARACETAMOL", "N02BE01", "paracetamol", "对乙酰氨基酚", "supportive",
       "acetaminophen", "Tylenol", "泰诺林"),
)

OTHER = "OTHER"
BY_CODE: dict[str, Medication] = {m.code: m for m in MEDICATIONS}


def normalise(text: str) -> str:
    """Case, width and spacing folded (NFKC), so "ＭＭＦ", "mmf " and "MMF" are one name."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


_INDEX: dict[str, str] = {}
for _med in MEDICATIONS:
    for _name in _med.names:
        key = normalise(_name)
        if _INDEX.get(key, _med.code) != _med.code:
            raise ValueError(f"medication name {_name!r} names two agents")
        _INDEX[key] = _med.code


def get(code: str | None) -> Medication | None:
    """The dictionary entry of a stored code (None for OTHER, blank or an unknown code)."""
    return BY_CODE.get(code or "")


def resolve(name: str) -> Medication | None:
    """The agent a name, brand name or synonym denotes exactly (after normalisation), or
    None. For the pick list and for reading older settings; the rules never call it."""
    return BY_CODE.get(_INDEX.get(normalise(name), ""))


def search(text: str) -> list[Medication]:
    """Agents any of whose names contains ``text``: exact matches first."""
    needle = normalise(text)
    if not needle:
        return []
    hits = [m for m in MEDICATIONS if any(needle in normalise(n) for n in m.names)]
    return sorted(hits, key=lambda m: (not any(normalise(n) == needle for n in m.names),
                                       m.en))


def codelist_terms() -> tuple[tuple[str, str, str], ...]:
    """The ``MED`` code list: every agent, then OTHER."""
    return tuple((m.code, m.en, m.zh) for m in MEDICATIONS) + (
        (OTHER, "Other (type the name)", "其他（请填写名称）"),)


def reference_half_lives() -> dict[str, float]:
    """The washout table of the eligibility specification, keyed by code."""
    return {m.code: m.half_life_hours for m in MEDICATIONS if m.half_life_hours is not None}
