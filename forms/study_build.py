"""The study build's metadata versions (shared/spec/study-build.md, interfaces.md).

Screening item names are fixed by interfaces.md; the instrument items (SLEDAI-2K, mRSS, MMT-8,
BVAS v3, classification criteria) are generated from the tables of ``forms.scores`` so that
each list exists once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from forms import medications, scores
from forms.metadata import CodeList, DateOrder, Event, Form, Item, Range, ShowIf, StudyBuild

R = Range.of


def _cl(oid: str, *terms: tuple[str, str, str]) -> CodeList:
    return CodeList(oid, tuple(terms))


CODELISTS = {c.oid: c for c in (
    _cl("NY", ("Y", "Yes", "是"), ("N", "No", "否")),
    _cl("SEX", ("F", "Female", "女"), ("M", "Male", "男")),
    _cl("POSNEG", ("POS", "Positive", "阳性"), ("NEG", "Negative", "阴性")),
    _cl("DETECT", ("DETECTED", "Detected", "检出"), ("NOT_DETECTED", "Not detected", "未检出")),
    _cl("COHORT", ("SLE", "Systemic lupus erythematosus", "系统性红斑狼疮"),
        ("SSC", "Systemic sclerosis", "系统性硬化症"),
        ("IIM", "Idiopathic inflammatory myopathy", "特发性炎性肌病"),
        ("AAV", "ANCA-associated vasculitis", "ANCA相关性血管炎")),
    _cl("SUBTYPE", ("DM", "Dermatomyositis", "皮肌炎"), ("PM", "Polymyositis", "多发性肌炎"),
        ("ASS", "Antisynthetase syndrome", "抗合成酶综合征"),
        ("NM", "Necrotising myopathy", "坏死性肌病"),
        ("GPA", "Granulomatosis with polyangiitis", "肉芽肿性多血管炎"),
        ("MPA", "Microscopic polyangiitis", "显微镜下多血管炎"),
        ("EGPA", "Eosinophilic GPA", "嗜酸性肉芽肿性多血管炎"),
        ("DIFFUSE", "Diffuse cutaneous SSc", "弥漫型"), ("LIMITED", "Limited cutaneous SSc",
                                                        "局限型"),
        ("NA", "Not applicable (SLE)", "不适用")),
    _cl("CREATU", ("umol/L", "µmol/L", "µmol/L"), ("mg/dL", "mg/dL", "mg/dL")),
    _cl("PGTYPE", ("SERUM", "Serum", "血"), ("URINE", "Urine", "尿")),
    _cl("PTRESP", ("INEFFECTIVE", "Ineffective", "无效"), ("REMISSION", "Remission", "缓解"),
        ("RELAPSE", "Relapse after remission", "缓解后复发"), ("ONGOING", "Ongoing", "进行中")),
    _cl("ECOG", *((str(i), f"ECOG {i}", f"ECOG {i}") for i in range(6))),
    _cl("ETHNIC", ("HAN", "Han", "汉族"), ("OTHER", "Other ethnic group", "其他民族"),
        ("UNK", "Not reported", "未报告")),
    _cl("RELEASE", ("PASS", "Released", "放行"), ("FAIL", "Not released", "未放行")),
    _cl("OXYGEN", ("none", "None", "无"), ("low_flow", "Low-flow ≤ 6 L/min", "低流量 ≤6 L/min"),
        ("high_flow", "High-flow > 6 L/min", "高流量 >6 L/min"),
        ("face_mask", "Face mask / non-rebreather / Venturi", "面罩"),
        ("positive_pressure", "Positive pressure (CPAP, BiPAP, ventilation)", "正压通气")),
    _cl("VASOPR", ("none", "None", "无"), ("one", "One", "一种"), ("multiple", "Multiple", "多种")),
    _cl("HYPOTEN", *((k, k.replace("_", " ").capitalize(), k) for k in scores.HYPOTENSION)),
    _cl("CONSC", *((k, k.capitalize(), k) for k in scores.CONSCIOUSNESS)),
    _cl("SEIZURE", ("none", "None", "无"),
        ("rapid", "Resolving rapidly / EEG, resolving", "快速缓解"),
        ("prolonged", "Prolonged > 5 min or repetitive", "持续或反复")),
    _cl("ICP", ("none", "None", "无"), ("focal", "Focal oedema", "局灶性水肿"),
        ("diffuse", "Diffuse oedema / posturing / papilloedema", "弥漫性水肿")),
    _cl("CTCAE", *((str(g), f"Grade {g}: {t}", f"{g}级") for g, t in scores.CTCAE_GRADES.items())),
    _cl("AEREL", ("RELATED", "Related", "相关"), ("POSSIBLE", "Possibly related", "可能相关"),
        ("NOT_RELATED", "Not related", "无关")),
    _cl("AEOUT", ("RECOVERED", "Recovered", "痊愈"), ("RECOVERING", "Recovering", "好转"),
        ("NOT_RECOVERED", "Not recovered", "未恢复"), ("SEQUELAE", "Recovered with sequelae",
                                                      "有后遗症"),
        ("FATAL", "Fatal", "死亡"), ("UNKNOWN", "Unknown", "未知")),
    _cl("AEACN", ("NONE", "None", "无"), ("TREATED", "Treated", "治疗"),
        ("HOSPITALISED", "Hospitalised", "住院"), ("OTHER", "Other", "其他")),
    _cl("AESI", ("NONE", "None", "无"), ("CRS", "CRS", "CRS"), ("ICANS", "ICANS", "ICANS"),
        ("ICAHT", "ICAHT", "ICAHT"), ("INFECTION", "Infection", "感染"),
        ("HYPOGAMMA", "Hypogammaglobulinaemia", "低丙种球蛋白血症"),
        ("MALIGNANCY", "Secondary malignancy", "继发恶性肿瘤")),
    _cl("ROUTE", ("PO", "Oral", "口服"), ("IV", "Intravenous", "静脉"), ("SC", "Subcutaneous",
                                                                           "皮下"),
        ("IM", "Intramuscular", "肌注"), ("OTHER", "Other", "其他")),
    _cl("CONTACT", ("VISIT", "Visit", "门诊"), ("PHONE", "Telephone", "电话"),
        ("QUESTIONNAIRE", "Questionnaire", "问卷")),
    _cl("EOSREAS", ("COMPLETED", "Completed", "完成"), ("WITHDREW", "Withdrew consent",
                                                           "撤回知情同意"),
        ("LOST", "Lost to follow-up", "失访"), ("DEATH", "Death", "死亡"),
        ("INVESTIGATOR", "Investigator decision", "研究者决定")),
    _cl("ANCA", ("PR3", "PR3-ANCA / cANCA", "PR3"), ("MPO", "MPO-ANCA / pANCA", "MPO"),
        ("NEG", "Negative", "阴性")),
    _cl("LNCLASS", *((c, f"Class {c}", f"{c}型") for c in
                     ("I", "II", "III", "IV", "V", "VI", "III+V", "IV+V"))),
)}


def text(name, label, zh="", **kw) -> Item:
    return Item(name, label, zh, "text", **kw)


def date(name, label, zh="", **kw) -> Item:
    return Item(name, label, zh, "date", cdash=kw.pop("cdash", name), **kw)


def yn(name, label, zh="", **kw) -> Item:
    return Item(name, label, zh, "code", codelist="NY", **kw)


def code(name, label, zh, codelist, **kw) -> Item:
    return Item(name, label, zh, "code", codelist=codelist, **kw)


def num(name, label, zh, unit, hard=None, soft=None, *, integer=False, **kw) -> Item:
    return Item(name, label, zh, "integer" if integer else "float", unit=unit,
                hard=R(*hard) if hard else None, soft=R(*soft) if soft else None, **kw)


def lab(name, label, zh, unit, hard, soft=None, **kw) -> Item:
    return num(name, label, zh, unit, hard, soft, sdtm=f"LBORRES:{name}", **kw)


def uln(name, label, zh, unit) -> Item:
    return num(name, f"{label} upper limit of normal", f"{zh}正常上限", unit, (0.001, 100000))


def grouped(key: str, *items: Item) -> tuple[Item, ...]:
    """The items, as members of item group ``key`` of their form."""
    return tuple(replace(i, group=key) for i in items)


def flags(prefix: str, names, label: str) -> tuple[Item, ...]:
    return tuple(yn(f"{prefix}{i + 1:02d}", f"{label}: {n.replace('_', ' ')}") for i, n in
                 enumerate(names))


# Screening ---------------------------------------------------------------------------------

IC = Form("IC", "Informed consent", "知情同意", (
    date("RFICDAT", "Date of consent", "知情同意日期", required=True),
    Item("RFICTIM", "Time of consent", "知情同意时间", "time"),
    text("ICFVER", "ICF version", "知情同意书版本", required=True, max_length=40),
    text("ICOBTBY", "Consent obtained by", "知情同意获取人", max_length=100),
    yn("COMPLY", "Willing to comply with follow-up", "愿意配合随访", required=True),
    yn("CONTRAC", "Agrees to contraception", "同意避孕", required=True),
), date_item="RFICDAT", procedure=False)

DM = Form("DM", "Demographics", "人口学资料", (
    text("INITIALS", "Initials", "姓名缩写", pii=True, max_length=4),
    text("MRN", "Hospital record number", "病历号", pii=True, max_length=20),
    date("BRTHDAT", "Date of birth", "出生日期", required=True, pii=True),
    code("SEX", "Sex", "性别", "SEX", required=True, cdash="SEX", sdtm="DM.SEX"),
    yn("CHILDPOT", "Woman of childbearing potential", "有生育能力的女性",
       required_if=("SEX", "F")),
    yn("PARTPOT", "Partner of childbearing potential", "伴侣有生育能力",
       required_if=("SEX", "M")),
    code("ETHNIC", "Ethnicity", "民族", "ETHNIC"),
    num("HEIGHT", "Height", "身高", "cm", (100, 230), (140, 200), required=True,
        cdash="VSORRES:HEIGHT"),
    num("WEIGHT", "Weight", "体重", "kg", (25, 250), (40, 120), required=True,
        cdash="VSORRES:WEIGHT"),
))

AAV_ITEMS = scores.AAV_2022_ITEMS

_CLASSIFICATION = (
    grouped("SLE2019", *flags("SLE", scores.SLE_2019, "2019 SLE"),
            yn("ANA80", "ANA ≥ 1:80 on HEp-2 cells (ever)", "ANA ≥ 1:80"))
    + grouped("SSC2013", *flags("SSC", ("skin_proximal_to_mcp", "puffy_fingers", "sclerodactyly",
                                        "digital_tip_ulcers", "pitting_scars", "telangiectasia",
                                        "abnormal_nailfold", "pah", "ild", "raynaud",
                                        "anti_centromere", "anti_topoisomerase",
                                        "anti_rna_polymerase_iii"), "2013 SSc"))
    + grouped("IIM2017", *flags("IIM", scores.IIM_2017, "2017 IIM"),
              num("IIMAGE", "Age at first symptom", "首发症状年龄", "years", (0, 130)),
              yn("IIMBX", "Muscle biopsy available", "有肌肉活检"))
    + grouped("AAV2022", *flags("AAV", AAV_ITEMS, "2022 AAV"))
    + grouped("CLASS",
              num("CLSCORE", "Classification score", "分类标准评分", None,
                  derived="classification"),
              text("CLRESULT", "Classification result", "分类结果", derived="classification"))
)
_CLASSIFICATION_GROUPS = {
    "SLE2019": ("2019 EULAR/ACR SLE classification", "2019 EULAR/ACR SLE分类标准"),
    "SSC2013": ("2013 ACR/EULAR SSc classification", "2013 ACR/EULAR 系统性硬化症分类标准"),
    "IIM2017": ("2017 EULAR/ACR IIM classification", "2017 EULAR/ACR 炎性肌病分类标准"),
    "AAV2022": ("2022 ACR/EULAR AAV classification", "2022 ACR/EULAR AAV分类标准"),
    "CLASS": ("Classification result (computed)", "分类结果（计算）"),
}

DX = Form("DX", "Diagnosis and cohort", "诊断与队列", (
    code("COHORT", "Cohort", "队列", "COHORT", required=True),
    date("DXDAT", "Date of diagnosis", "诊断日期", required=True),
    code("SUBTYPE", "Subtype", "亚型", "SUBTYPE"),
    yn("GILBERT", "Gilbert syndrome documented", "Gilbert综合征"),
    *_CLASSIFICATION,
), group_names=_CLASSIFICATION_GROUPS)

PT = Form("PT", "Prior treatment", "既往治疗", (
    text("PTAGENT", "Agent", "药物", required=True, max_length=100),
    date("PTSTDAT", "Start date", "开始日期", required=True),
    date("PTENDAT", "Stop date", "停止日期"),
    date("PTLSTDAT", "Last dose date", "末次给药日期"),
    code("PTRESP", "Response", "疗效", "PTRESP", required=True),
), repeating=True, date_orders=(
    DateOrder("PTSTDAT", "PTENDAT", "The stop date is before the start date."),
    DateOrder("PTSTDAT", "PTLSTDAT", "The last dose is before the start date."),
))

_CREAT_RANGES = {"umol/L": (R(10, 2500), R(41, 111)), "mg/dL": (R(0.1, 28), R(0.46, 1.26))}

LB = Form("LB", "Laboratory", "实验室检查", (
    date("LBDAT", "Sample date", "采样日期", required=True),
    lab("ANC", "Absolute neutrophil count", "中性粒细胞绝对值", "10^9/L", (0, 100), (1.8, 6.3)),
    yn("CSF14D", "G-CSF/GM-CSF in the last 14 days", "近14天使用集落刺激因子"),
    lab("WBC", "White blood cells", "白细胞", "10^9/L", (0, 500), (3.5, 9.5)),
    lab("ALC", "Absolute lymphocyte count", "淋巴细胞绝对值", "10^9/L", (0, 300), (1.1, 3.2)),
    lab("PLT", "Platelets", "血小板", "10^9/L", (0, 2000), (125, 350)),
    lab("HGB", "Haemoglobin", "血红蛋白", "g/L", (30, 250), (115, 175)),
    lab("ALT", "ALT", "丙氨酸氨基转移酶", "U/L", (0, 10000)), uln("ALTULN", "ALT", "ALT", "U/L"),
    lab("AST", "AST", "天冬氨酸氨基转移酶", "U/L", (0, 10000)), uln("ASTULN", "AST", "AST", "U/L"),
    lab("BILI", "Total bilirubin", "总胆红素", "umol/L", (0, 1000)),
    uln("BILIULN", "Bilirubin", "胆红素", "umol/L"),
    Item("CREAT", "Serum creatinine", "血肌酐", "float", unit_item="CREATU",
         unit_ranges=_CREAT_RANGES, sdtm="LBORRES:CREAT"),
    code("CREATU", "Creatinine unit", "肌酐单位", "CREATU", required_if=("CREAT", "*")),
    lab("CK", "Creatine kinase", "肌酸激酶", "U/L", (0, 200000)), uln("CKULN", "CK", "CK", "U/L"),
    lab("LDH", "LDH", "乳酸脱氢酶", "U/L", (0, 50000)), uln("LDHULN", "LDH", "LDH", "U/L"),
    yn("TXMYO", "Transaminase rise attributed to myositis", "转氨酶升高归因于肌炎"),
    yn("CRCLACUT", "Acute CrCl fall attributed to the target disease",
       "肌酐清除率急性下降归因于原发病"),
    lab("CRP", "C-reactive protein", "C反应蛋白", "mg/L", (0, 1000), (0, 10)),
    lab("FERRITIN", "Ferritin", "铁蛋白", "ng/mL", (0, 200000), (15, 400)),
    lab("IL6", "Interleukin-6", "白介素-6", "pg/mL", (0, 100000), (0, 7)),
    lab("FIBRINO", "Fibrinogen", "纤维蛋白原", "g/L", (0, 20), (2, 4)),
    lab("IGG", "IgG", "IgG", "g/L", (0, 100), (7, 16)),
    lab("IGA", "IgA", "IgA", "g/L", (0, 50), (0.7, 4)),
    lab("IGM", "IgM", "IgM", "g/L", (0, 50), (0.4, 2.3)),
), date_item="LBDAT")

FC = Form("FC", "Flow cytometry", "流式细胞术", (
    date("FCDAT", "Sample date", "采样日期", required=True),
    yn("CD19POS", "CD19 on peripheral B cells", "外周B细胞CD19表达", required=True),
    num("CD19PCT", "CD19+ B cells", "CD19+ B细胞比例", "%", (0, 100)),
    num("CD19ABS", "CD19+ B cells absolute", "CD19+ B细胞绝对值", "cells/uL", (0, 100000)),
    num("BCMAPCT", "BCMA+ plasma cells", "BCMA+浆细胞比例", "%", (0, 100)),
), date_item="FCDAT")

PG = Form("PG", "Pregnancy test", "妊娠试验", (
    date("PGDAT", "Test date", "检测日期", required=True),
    code("PGTYPE", "Type", "类型", "PGTYPE", required=True),
    code("PGRES", "Result", "结果", "POSNEG", required=True),
    yn("LACTAT", "Lactating", "哺乳期", required=True),
), date_item="PGDAT")

SR = Form("SR", "Infection serology", "感染筛查", (
    date("SRDAT", "Sample date", "采样日期", required=True),
    code("HBSAG", "HBsAg", "乙肝表面抗原", "POSNEG", required=True),
    code("HBCAB", "HBcAb", "乙肝核心抗体", "POSNEG", required=True),
    code("HBSAB", "HBsAb", "乙肝表面抗体", "POSNEG"),
    num("HBVDNA", "HBV DNA", "HBV DNA", "IU/mL", (0, 1e10)),
    num("HBVULN", "HBV DNA upper limit (LLOQ)", "HBV DNA检测上限", "IU/mL", (0, 1e6)),
    code("HCVAB", "HCV antibody", "丙肝抗体", "POSNEG", required=True),
    code("HCVRNA", "HCV RNA", "HCV RNA", "DETECT"),
    code("HIVAB", "HIV antibody", "HIV抗体", "POSNEG", required=True),
    code("SYPH", "Syphilis (TPPA/RPR)", "梅毒", "POSNEG", required=True),
), date_item="SRDAT")

EC = Form("EC", "ECOG performance status", "ECOG评分", (
    date("ECDAT", "Assessment date", "评估日期", required=True),
    code("ECOG", "ECOG", "ECOG", "ECOG", required=True),
), date_item="ECDAT")

DA = Form("DA", "Disease activity at baseline", "基线疾病活动度", (
    date("DADAT", "Assessment date", "评估日期", required=True),
    *grouped("SLEDAI", *flags("SLEDAI", scores.SLEDAI_2K, "SLEDAI-2K"),
             num("SLEDAI", "SLEDAI-2K total", "SLEDAI-2K总分", None, derived="sledai2k")),
    *grouped(
        "LN",
        date("BXDAT", "Renal biopsy date", "肾活检日期"),
        code("LNCLASS", "ISN/RPS class", "ISN/RPS分型", "LNCLASS"),
        *(num(f"NIHA{i + 1:02d}", f"NIH activity: {k.replace('_', ' ')}", "", None, (0, 3),
              integer=True) for i, k in enumerate(scores.NIH_ACTIVITY)),
        num("NIHACT", "NIH activity index", "活动指数", None, derived="nih_activity"),
        *(num(f"NIHC{i + 1:02d}", f"NIH chronicity: {k.replace('_', ' ')}", "", None, (0, 3),
              integer=True) for i, k in enumerate(scores.NIH_CHRONICITY)),
        num("NIHCHR", "NIH chronicity index", "慢性指数", None, derived="nih_chronicity"),
        num("UPCR", "Urine protein/creatinine ratio", "尿蛋白肌酐比", "g/g", (0, 50)),
        num("PROT24", "24-h urine protein", "24小时尿蛋白", "g/24h", (0, 50))),
    *grouped(
        "SSC",
        *(num(f"MRSS{i + 1:02d}", f"mRSS {s.replace('_', ' ')}", "", None, (0, 3),
              integer=True) for i, s in enumerate(scores.MRSS_SITES)),
        num("MRSS", "mRSS total", "mRSS总分", None, derived="mrss"),
        num("MRSSPRI", "Prior mRSS total", "既往mRSS", None, (0, 51), integer=True),
        date("MRSSPDAT", "Date of the prior mRSS", "既往mRSS日期"),
        num("FVC", "FVC % predicted", "FVC占预计值%", "%", (10, 200)),
        num("DLCO", "DLCO % predicted", "DLCO占预计值%", "%", (5, 200)),
        num("FVCPRI", "Prior FVC % predicted", "既往FVC%", "%", (10, 200)),
        num("DLCOPRI", "Prior DLCO % predicted", "既往DLCO%", "%", (5, 200)),
        yn("HRCTGGO", "HRCT ground-glass opacities (active ILD)", "HRCT磨玻璃影"),
        text("SSCABOTH", "Other scleroderma-related antibody", "其他硬皮病相关抗体",
             max_length=100)),
    *grouped(
        "IIM",
        *(num(f"MMT{i + 1:02d}", f"MMT-8 {m.replace('_', ' ')}", "", None, (0, 10),
              integer=True) for i, m in enumerate(scores.MMT8_ITEMS)),
        num("MMT8", "MMT-8 total", "MMT-8总分", None, derived="mmt8"),
        num("PHGA", "Physician global activity", "医生总体评估", "cm", (0, 10)),
        num("PTGA", "Patient global activity", "患者总体评估", "cm", (0, 10)),
        num("EXTRAMUS", "Extramuscular activity", "肌外活动度", "cm", (0, 10)),
        num("HAQDI", "HAQ-DI", "HAQ-DI", None, (0, 3)),
        num("ALDOL", "Aldolase", "醛缩酶", "U/L", (0, 1000)),
        num("ALDOLULN", "Aldolase upper limit of normal", "醛缩酶正常上限", "U/L",
            (0.001, 1000)),
        yn("ILDPROG", "Rapidly progressive ILD (investigator-attested)", "间质性肺病快速进展"),
        date("ILDDAT", "Date of the HRCT/PFT evidence", "HRCT/肺功能证据日期")),
    *grouped(
        "AAV",
        code("ANCATYPE", "ANCA type", "ANCA类型", "ANCA"),
        *(num(f"BVAS{s.upper()[:6]}", f"BVAS new/worse: {s.replace('_', ' ')}", "", None,
              (0, top), integer=True) for s, (_, top) in scores.BVAS_MAX.items()),
        num("BVAS", "BVAS v3 total", "BVAS总分", None, derived="bvas3")),
), date_item="DADAT", group_names={
    "SLEDAI": ("SLE: SLEDAI-2K", "系统性红斑狼疮：SLEDAI-2K"),
    "LN": ("SLE: renal biopsy and proteinuria", "系统性红斑狼疮：肾活检与蛋白尿"),
    "SSC": ("SSc: skin score and lung function", "系统性硬化症：皮肤评分与肺功能"),
    "IIM": ("IIM: muscle strength and core set", "炎性肌病：肌力与核心指标"),
    "AAV": ("AAV: ANCA and BVAS v3", "AAV：ANCA与BVAS v3"),
})

EX = Form("EX", "Exclusion checklist", "排除标准核查", (
    *(yn(f"EX{n:02d}", f"Exclusion criterion EX-{n:02d} present", f"排除标准EX-{n:02d}",
         required=True) for n in (1, 2, 3, 4, 5, 7, 9, 12, 13)),
    date("MALIGDAT", "Most recent malignancy diagnosis", "最近恶性肿瘤诊断日期"),
    date("TRIALDAT", "Last participation in another trial", "最近参加其他试验日期"),
    num("LVEF", "LVEF", "左室射血分数", "%", (5, 90), (50, 80)),
))

# Enrollment and treatment ------------------------------------------------------------------

EN = Form("EN", "Enrollment", "入组", (
    date("ENDAT", "Enrollment date", "入组日期", required=True),
    text("SUBJNO", "Subject number", "受试者编号", derived="enrollment"),
    code("COHORTC", "Cohort confirmed", "确认队列", "COHORT", required=True),
), date_item="ENDAT")

AP = Form("AP", "Apheresis and manufacturing", "单采与制备", (
    date("APDAT", "Apheresis date", "单采日期", required=True),
    text("LOTNO", "Product lot number", "产品批号", required=True, max_length=40),
    date("RELDAT", "Manufacturing release date", "放行日期"),
    code("RELRES", "Release result", "放行结果", "RELEASE"),
    num("CARPCT", "CAR+ cells in product", "CAR阳性率", "%", (0, 100)),
    num("VIAB", "Viability", "细胞活率", "%", (0, 100), (70, 100)),
), date_item="APDAT", date_orders=(
    DateOrder("APDAT", "RELDAT", "Release cannot be before apheresis."),))

LD = Form("LD", "Lymphodepletion", "清淋预处理", (
    num("HEIGHT", "Height", "身高", "cm", (100, 230), required=True),
    num("WEIGHT", "Weight", "体重", "kg", (25, 250), required=True),
    num("BSA", "Body surface area (Mosteller)", "体表面积", "m2", derived="bsa"),
    num("CRCL", "Creatinine clearance (Cockcroft–Gault)", "肌酐清除率", "mL/min",
        derived="crcl"),
    date("LDSTDAT", "First day of lymphodepletion", "预处理开始日期", required=True),
), date_item="LDSTDAT")

LDD = Form("LDD", "Lymphodepletion day", "预处理每日给药", (
    date("LDDAT", "Date", "日期", required=True),
    num("FLUPRE", "Fludarabine prescribed", "氟达拉滨处方剂量", "mg", derived="ld_dose"),
    num("FLUADM", "Fludarabine administered", "氟达拉滨实际剂量", "mg", (0, 200)),
    num("CYPRE", "Cyclophosphamide prescribed", "环磷酰胺处方剂量", "mg", derived="ld_dose"),
    num("CYADM", "Cyclophosphamide administered", "环磷酰胺实际剂量", "mg", (0, 3000)),
    text("LDDEVR", "Reason for dose deviation", "剂量偏离原因", max_length=400),
), repeating=True, date_item="LDDAT")

IF = Form("IF", "CAR-T infusion", "CAR-T回输", (
    date("IFDAT", "Infusion date", "回输日期", required=True),
    Item("IFTIM", "Infusion time", "回输时间", "time", required=True),
    text("LOTNO", "Product lot number", "产品批号", required=True, max_length=40),
    num("DOSEKG", "Dose", "剂量", "10^6 CAR+ cells/kg", (0.01, 100)),
    num("DOSETOT", "Total dose", "总剂量", "10^6 CAR+ cells", (0.1, 10000)),
    text("PREMED", "Premedication", "预处理用药", max_length=200),
    num("PRETEMP", "Temperature before", "回输前体温", "C", (33, 43)),
    num("POSTTEMP", "Temperature after", "回输后体温", "C", (33, 43)),
    yn("IFREACT", "Infusion reaction", "输注反应"),
), date_item="IFDAT")

# Follow-up ---------------------------------------------------------------------------------

VS = Form("VS", "Vital signs", "生命体征", (
    date("VSDAT", "Date", "日期", required=True),
    num("TEMP", "Temperature", "体温", "C", (30, 44), (36, 37.9)),
    num("HR", "Heart rate", "心率", "beats/min", (20, 250), (50, 100), integer=True),
    num("SYSBP", "Systolic BP", "收缩压", "mmHg", (40, 280), (90, 140), integer=True),
    num("DIABP", "Diastolic BP", "舒张压", "mmHg", (20, 180), (50, 90), integer=True),
    num("RR", "Respiratory rate", "呼吸频率", "breaths/min", (4, 80), (10, 24), integer=True),
    num("SPO2", "SpO2", "血氧饱和度", "%", (30, 100), (94, 100)),
    code("OXYGEN", "Oxygen support", "氧疗", "OXYGEN"),
    code("VASOPR", "Vasopressors", "血管活性药物", "VASOPR"),
), date_item="VSDAT")

CRS = Form("CRS", "CRS assessment", "CRS评估", (
    date("CRSDAT", "Assessment date", "评估日期", required=True),
    yn("FEVER", "Fever ≥ 38.0 °C", "发热≥38.0°C", required=True),
    yn("FEVOTH", "Fever attributable to another cause", "发热可归因于其他原因"),
    yn("TREATED", "Antipyretic or anti-cytokine therapy given", "已用退热或抗细胞因子治疗"),
    code("HYPOTEN", "Hypotension", "低血压", "HYPOTEN", required=True),
    code("HYPOXIA", "Hypoxia support", "低氧支持", "OXYGEN", required=True),
    num("CRSGR", "ASTCT CRS grade", "CRS分级", None, derived="crs"),
    num("TOCIDOSE", "Tocilizumab dose", "托珠单抗剂量", "mg", (0, 1000)),
    num("STERDOSE", "Corticosteroid dose (methylprednisolone eq.)", "糖皮质激素剂量", "mg",
        (0, 2000)),
), date_item="CRSDAT")

ICANS = Form("ICANS", "Neurotoxicity (ICANS)", "神经毒性评估", (
    date("ICDAT", "Assessment date", "评估日期", required=True),
    yn("UNAROUS", "Unarousable, cannot perform ICE", "无法唤醒，不能完成ICE"),
    num("ICEORI", "ICE orientation (0–4)", "定向力", None, (0, 4), integer=True),
    num("ICENAME", "ICE naming (0–3)", "命名", None, (0, 3), integer=True),
    num("ICECMD", "ICE commands (0–1)", "执行指令", None, (0, 1), integer=True),
    num("ICEWRITE", "ICE writing (0–1)", "书写", None, (0, 1), integer=True),
    num("ICECOUNT", "ICE counting (0–1)", "计数", None, (0, 1), integer=True),
    num("ICE", "ICE score", "ICE评分", None, derived="ice"),
    code("CONSC", "Depressed consciousness", "意识水平", "CONSC"),
    code("SEIZURE", "Seizure", "癫痫", "SEIZURE"),
    yn("MOTOR", "Deep focal motor weakness", "局灶运动无力"),
    code("ICP", "Raised ICP / cerebral oedema", "颅内压增高/脑水肿", "ICP"),
    num("ICANSGR", "ASTCT ICANS grade", "ICANS分级", None, derived="icans"),
), date_item="ICDAT")

PK = Form("PK", "CAR-T kinetics", "CAR-T药代动力学", (
    date("PKDAT", "Sample date", "采样日期", required=True),
    num("CARCOPY", "CAR transgene", "CAR拷贝数", "copies/ug gDNA", (0, 1e9)),
    num("CARPCT", "CAR+ T cells", "CAR-T比例", "%", (0, 100)),
    num("CARABS", "CAR+ T cells absolute", "CAR-T绝对值", "cells/uL", (0, 1e6)),
    num("BCELL", "CD19+ B cells", "B细胞计数", "cells/uL", (0, 1e5)),
), date_item="PKDAT")

DAF = Form("DAF", "Disease activity follow-up", "疾病活动度随访", (
    date("DAFDAT", "Assessment date", "评估日期", required=True),
    num("SLEDAI", "SLEDAI-2K total", "SLEDAI-2K", None, (0, 105), integer=True),
    num("MRSS", "mRSS total", "mRSS", None, (0, 51), integer=True),
    num("FVC", "FVC % predicted", "FVC%", "%", (10, 200)),
    num("DLCO", "DLCO % predicted", "DLCO%", "%", (5, 200)),
    num("MMT8", "MMT-8 total", "MMT-8", None, (0, 150), integer=True),
    num("BVAS", "BVAS v3 total", "BVAS", None, (0, 63), integer=True),
    num("C3", "C3", "补体C3", "g/L", (0, 5), (0.9, 1.8)),
    num("C4", "C4", "补体C4", "g/L", (0, 2), (0.1, 0.4)),
    num("DSDNA", "Anti-dsDNA", "抗dsDNA", "IU/mL", (0, 10000)),
    num("ANCATIT", "ANCA titre", "ANCA滴度", "RU/mL", (0, 10000)),
    num("GCDOSE", "Glucocorticoid dose (prednisone eq.)", "激素剂量", "mg/day", (0, 1000)),
), date_item="DAFDAT")

RCL = Form("RCL", "Replication-competent lentivirus", "复制型慢病毒检测", (
    date("RCLDAT", "Sample date", "采样日期", required=True),
    code("RCLRES", "Result", "结果", "DETECT", required=True),
), date_item="RCLDAT")

LTFU = Form("LTFU", "Long-term follow-up contact", "长期随访", (
    date("LTDAT", "Contact date", "随访日期", required=True),
    code("LTTYPE", "Contact type", "随访方式", "CONTACT", required=True),
    yn("ALIVE", "Alive", "存活", required=True),
    yn("NEWMAL", "New malignancy", "新发恶性肿瘤"),
    yn("NEWAUTO", "New autoimmune or neurological disorder", "新发自身免疫或神经系统疾病"),
    yn("NEWHEM", "New haematological disorder", "新发血液系统疾病"),
    yn("INFECT", "Serious infections", "严重感染"),
), date_item="LTDAT")

# Logs --------------------------------------------------------------------------------------

AE = Form("AE", "Adverse event", "不良事件", (
    text("AETERM", "Term", "不良事件名称", required=True, max_length=200, cdash="AETERM"),
    date("AESTDAT", "Onset date", "开始日期", required=True),
    date("AEENDAT", "Resolution date", "结束日期"),
    code("AETOXGR", "CTCAE grade", "CTCAE分级", "CTCAE", required=True),
    yn("AESER", "Serious", "严重不良事件", required=True),
    text("AESERCR", "SAE criteria", "SAE标准", max_length=200),
    code("AERELCT", "Relation to CAR-T", "与CAR-T关系", "AEREL", required=True),
    code("AERELLD", "Relation to lymphodepletion", "与预处理关系", "AEREL"),
    code("AEACN", "Action taken", "采取措施", "AEACN"),
    code("AEOUT", "Outcome", "转归", "AEOUT"),
    code("AESI", "Adverse event of special interest", "特别关注不良事件", "AESI"),
), repeating=True, date_item="AESTDAT", procedure=False, date_orders=(
    DateOrder("AESTDAT", "AEENDAT", "The resolution date is before the onset date."),))

CM = Form("CM", "Concomitant medication", "合并用药", (
    text("CMTRT", "Agent", "药物", required=True, max_length=200, cdash="CMTRT"),
    text("CMINDC", "Indication", "适应症", max_length=200),
    num("CMDOSE", "Dose", "剂量", None, (0, 100000)),
    text("CMDOSU", "Dose unit", "剂量单位", max_length=20),
    code("CMROUTE", "Route", "给药途径", "ROUTE"),
    date("CMSTDAT", "Start date", "开始日期", required=True),
    date("CMENDAT", "Stop date", "停止日期"),
), repeating=True, date_item="CMSTDAT", procedure=False, date_orders=(
    DateOrder("CMSTDAT", "CMENDAT", "The stop date is before the start date."),))

SM = Form("SM", "Second primary malignancy", "第二原发恶性肿瘤", (
    date("SMDAT", "Diagnosis date", "诊断日期", required=True),
    text("SMTYPE", "Type", "类型", required=True, max_length=200),
    yn("SMTCELL", "T-cell malignancy", "T细胞恶性肿瘤", required=True),
    yn("SMTISS", "Tissue collected for CAR-transgene testing", "已留取组织检测CAR转基因"),
), repeating=True, date_item="SMDAT", procedure=False)

DTH = Form("DTH", "Death", "死亡", (
    date("DTHDAT", "Date of death", "死亡日期", required=True),
    text("DTHCAUS", "Primary cause", "主要死因", required=True, max_length=200),
    code("DTHREL", "Relation to treatment", "与治疗关系", "AEREL", required=True),
), date_item="DTHDAT", procedure=False)

PGN = Form("PGN", "Pregnancy report", "妊娠报告", (
    date("PGNDAT", "Date pregnancy known", "获知日期", required=True),
    yn("PGNPART", "Partner pregnancy", "伴侣妊娠", required=True),
    text("PGNOUT", "Outcome", "结局", max_length=200),
), repeating=True, date_item="PGNDAT", procedure=False)

HO = Form("HO", "Hospitalisation", "住院", (
    date("HOSTDAT", "Admission date", "入院日期", required=True),
    date("HOENDAT", "Discharge date", "出院日期"),
    text("HOREAS", "Reason", "原因", required=True, max_length=200),
), repeating=True, date_item="HOSTDAT", procedure=False, date_orders=(
    DateOrder("HOSTDAT", "HOENDAT", "Discharge is before admission."),))

EOS = Form("EOS", "End of study", "研究结束", (
    date("EOSDAT", "Date", "日期", required=True),
    code("EOSREAS", "Reason", "原因", "EOSREAS", required=True),
), date_item="EOSDAT")

FORMS = {f.oid: f for f in (IC, DM, DX, PT, LB, FC, PG, SR, EC, DA, EX, EN, AP, LD, LDD, IF, VS,
                            CRS, ICANS, PK, DAF, RCL, LTFU, AE, CM, SM, DTH, PGN, HO, EOS)}
LOG_FORMS = ("AE", "CM", "SM", "DTH", "PGN", "HO")

EVENTS = (
    Event("SCREEN", "Screening", ("IC", "DM", "DX", "PT", "LB", "FC", "PG", "SR", "EC", "DA",
                                  "EX"), name_zh="筛选期"),
    Event("ENROL", "Enrollment / eligibility", ("EN",), name_zh="入组/入选标准"),
    Event("APHER", "Apheresis and manufacturing", ("AP",), name_zh="单采与制备"),
    Event("LD", "Lymphodepletion", ("LD", "LDD"), day=-5, window=(1, 1), name_zh="清淋预处理"),
    Event("INF", "CAR-T infusion", ("IF", "VS"), day=0, window=(0, 0), name_zh="CAR-T回输"),
    *(Event(f"D{d}", f"Day {d}", ("VS", "CRS", "ICANS", "LB"), day=d, window=(0, 0),
            name_zh=f"第{d}天") for d in range(1, 15)),
    Event("D21", "Day 21", ("VS", "CRS", "ICANS", "LB", "PK"), day=21, window=(2, 2),
          name_zh="第21天"),
    Event("D28", "Day 28", ("VS", "LB", "PK", "DAF"), day=28, window=(3, 3), name_zh="第28天"),
    Event("M2", "Month 2", ("LB", "PK", "DAF"), day=60,
          window=(7, 7), name_zh="第2个月"),
    Event("M3", "Month 3", ("LB", "PK", "DAF", "RCL"), day=90,
          window=(7, 7), name_zh="第3个月"),
    Event("M6", "Month 6", ("LB", "PK", "DAF", "RCL"), day=180,
          window=(14, 14), name_zh="第6个月"),
    Event("M9", "Month 9", ("LB", "PK", "DAF"), day=270,
          window=(14, 14), name_zh="第9个月"),
    Event("M12", "Month 12", ("LB", "PK", "DAF", "RCL"), day=365,
          window=(30, 30), name_zh="第12个月"),
    Event("M18", "Month 18", ("LB", "PK", "DAF"), day=545,
          window=(30, 30), name_zh="第18个月"),
    Event("M24", "Month 24", ("LB", "PK", "DAF", "RCL"), day=730,
          window=(30, 30), name_zh="第24个月"),
    *(Event(f"Y{y}", f"Year {y}", ("LTFU", "RCL"), day=365 * y, window=(60, 60),
            name_zh=f"第{y}年") for y in range(3, 16)),
    Event("UNSCHED", "Unscheduled visit", ("VS", "LB", "CRS", "ICANS", "PK"), repeatable=True,
          name_zh="计划外访视"),
    Event("EOS", "End of study / early termination", ("EOS",), name_zh="研究结束/提前终止"),
    Event("LOG", "Logs (any time after consent)", LOG_FORMS, repeatable=False,
          name_zh="日志（知情同意后任何时间）"),
)

# Metadata versions. A protocol amendment is a new version; a form instance keeps the version
# it was first saved under (its items, ranges and code lists), new instances take the active
# version. Each version states what changed.
BUILD_1_0 = StudyBuild("1.0", EVENTS, FORMS, CODELISTS)

VS_1_1 = replace(VS, items=(*VS.items, num("WEIGHT", "Body weight", "体重", "kg", (25, 250))))
BUILD_1_1 = StudyBuild("1.1", EVENTS, {**FORMS, "VS": VS_1_1}, CODELISTS)

# Version 1.2 ---------------------------------------------------------------------------------
# Medications are coded, history dates may be partial, laboratory results may lie beyond a
# limit of quantification, BVAS v3 is ticked item by item, and a serious AE records the
# seriousness criteria and the 24-hour reporting clock.

CODELISTS_1_2 = {**CODELISTS, **{c.oid: c for c in (
    CodeList("MED", medications.codelist_terms(), search_terms={
        m.code: " ".join((m.en, m.zh, *m.synonyms)) for m in medications.MEDICATIONS}),
    _cl("WASHJ", ("NOT_IS", "Not an immunosuppressant or biologic", "非免疫抑制剂或生物制剂"),
        ("COMPLETE", "Washout complete before enrollment", "入组前洗脱期已满"),
        ("NOT_COMPLETE", "Washout not complete", "洗脱期未满")),
)}}


def _with(form: Form, **changes) -> Form:
    """``form`` with some items replaced (name -> Item or None to drop) and others added
    after a named item (``after_<NAME>``: tuple of items)."""
    out = []
    for item in form.items:
        if item.name in changes:
            if changes[item.name] is not None:
                out.append(changes[item.name])
        else:
            out.append(item)
        out.extend(changes.get(f"after_{item.name}", ()))
    return replace(form, items=tuple(out))


def _loq(form: Form, *names: str) -> Form:
    return replace(form, items=tuple(replace(i, loq=True) if i.name in names else i
                                     for i in form.items))


def _partial(form: Form, *names: str) -> Form:
    return replace(form, items=tuple(replace(i, partial=True) if i.name in names else i
                                     for i in form.items))


def bvas_name(key: str) -> str:
    """The item name (BVAS01…BVAS56) of a BVAS v3 item key."""
    n = next(n for n, item in enumerate(scores.BVAS_ITEMS, 1) if item[1] == key)
    return f"BVAS{n:02d}"


def bvas_items(*, first_assessment: bool) -> tuple[Item, ...]:
    """BVAS01…BVAS56 (the published form's items), the persistent box and the total. The
    serum creatinine bands are asked only at the first assessment."""
    items = tuple(
        yn(f"BVAS{n:02d}", f"BVAS {system.replace('_', ' ')}: {label}",
           f"BVAS {label}")
        for n, (system, key, label, _, _) in enumerate(scores.BVAS_ITEMS, 1)
        if first_assessment or key not in scores.BVAS_FIRST_ONLY)
    return items + (
        yn("BVASPERS", "Persistent disease only (all abnormalities persistent, none new or "
                       "worse in the last 4 weeks)", "仅持续性病变"),
        num("BVAS", "BVAS v3 total", "BVAS总分", None, derived="bvas3"))


_LB_LOQ = tuple(i.name for i in LB.items if (i.sdtm or "").startswith("LBORRES:")
                and i.name != "CREAT")

PT_1_2 = _partial(_with(
    PT,
    PTAGENT=code("PTAGENT", "Agent (medication dictionary)", "药物（药品字典）", "MED",
                 required=True),
    after_PTAGENT=(text("PTAGOTH", "Other agent: name", "其他药物名称", max_length=100,
                        required_if=("PTAGENT", "OTHER")),),
    after_PTRESP=(code("PTWOJ", "Investigator's washout judgement for EX-11 (agents without "
                                "a half-life in the washout table, and other agents)",
                       "研究者洗脱期判断（EX-11）", "WASHJ"),),
), "PTSTDAT", "PTENDAT", "PTLSTDAT")

CM_1_2 = _with(
    CM,
    CMTRT=code("CMTRT", "Agent (medication dictionary)", "药物（药品字典）", "MED",
               required=True, cdash="CMTRT"),
    after_CMTRT=(text("CMTRTOTH", "Other agent: name", "其他药物名称", max_length=200,
                      required_if=("CMTRT", "OTHER")),),
)

DX_1_2 = _partial(_with(DX, AAV16=None), "DXDAT")
EX_1_2 = _partial(EX, "MALIGDAT", "TRIALDAT")

DA_1_2 = replace(DA, items=tuple(
    i for i in DA.items if not (i.group == "AAV" and i.name.startswith("BVAS")))
    + grouped("AAV", *bvas_items(first_assessment=True)))
DAF_1_2 = _with(DAF, BVAS=None, after_GCDOSE=grouped("BVAS", *bvas_items(
    first_assessment=False)))
DAF_1_2 = replace(DAF_1_2, group_names={"BVAS": ("BVAS v3 (AAV)", "BVAS v3（AAV）")})

_SERIOUS = (("AESDTH", "Results in death", "导致死亡"),
            ("AESLIFE", "Life-threatening", "危及生命"),
            ("AESHOSP", "Requires or prolongs hospitalisation", "导致住院或延长住院"),
            ("AESDISAB", "Persistent or significant disability or incapacity", "导致残疾"),
            ("AESCONG", "Congenital anomaly or birth defect", "先天异常"),
            ("AESMIE", "Other medically important event", "其他重要医学事件"))
AE_1_2 = _with(
    AE, AESERCR=None,
    after_AESER=(
        *(yn(name, f"Seriousness: {en}", zh, cdash=name) for name, en, zh in _SERIOUS),
        date("AESAWDAT", "Date the site became aware of the SAE", "研究中心获知SAE日期",
             required_if=("AESER", "Y")),
        Item("AESAWTIM", "Time the site became aware (site time)", "获知时间", "time",
             required_if=("AESER", "Y")),
        date("AESRPDAT", "Date reported to the sponsor", "报告申办方日期"),
        Item("AESRPTIM", "Time reported to the sponsor (site time)", "报告时间", "time"),
    ))
SERIOUSNESS_ITEMS = tuple(name for name, _, _ in _SERIOUS)

FORMS_1_2 = {**FORMS, "VS": VS_1_1, "PT": PT_1_2, "CM": CM_1_2, "DX": DX_1_2, "EX": EX_1_2,
             "DA": DA_1_2, "DAF": DAF_1_2, "AE": AE_1_2,
             "LB": _loq(LB, *_LB_LOQ), "SR": _loq(SR, "HBVDNA"),
             "PK": _loq(PK, "CARCOPY", "CARABS", "BCELL"), "FC": _loq(FC, "CD19ABS")}
BUILD_1_2 = StudyBuild("1.2", EVENTS, FORMS_1_2, CODELISTS_1_2)

# Version 1.3 ---------------------------------------------------------------------------------
# Forms that guide: branching from the metadata (show_if). The diagnosis and disease-activity
# forms ask only the chosen cohort's items, demographics asks childbearing potential of women
# and the partner's of men, and the pregnancy test applies to women of childbearing potential.


def _shown(form: Form, *, groups: Mapping[str, ShowIf] = {},  # noqa: B006 - read only
           items: Mapping[str, ShowIf] = {}, whole: ShowIf | None = None) -> Form:  # noqa: B006
    """``form`` with conditions on items, by item group or by name (the name wins), and on
    the whole form."""
    return replace(form, show_if=whole, items=tuple(
        replace(i, show_if=items.get(i.name) or groups.get(i.group)) for i in form.items))


def _cohort(*codes: str, other: bool = True) -> ShowIf:
    return ShowIf("DX.COHORT" if other else "COHORT", codes)


DM_1_3 = _shown(DM, items={"CHILDPOT": ShowIf("SEX", ("F",)),
                           "PARTPOT": ShowIf("SEX", ("M",))})
DX_1_3 = _shown(DX_1_2, items={"SUBTYPE": _cohort("SSC", "IIM", "AAV", other=False)}, groups={
    "SLE2019": _cohort("SLE", other=False), "SSC2013": _cohort("SSC", other=False),
    "IIM2017": _cohort("IIM", other=False), "AAV2022": _cohort("AAV", other=False)})
DA_1_3 = _shown(DA_1_2, groups={"SLEDAI": _cohort("SLE"), "LN": _cohort("SLE"),
                                "SSC": _cohort("SSC"), "IIM": _cohort("IIM"),
                                "AAV": _cohort("AAV")})
DAF_1_3 = _shown(DAF_1_2, groups={"BVAS": _cohort("AAV")}, items={
    "SLEDAI": _cohort("SLE"), "C3": _cohort("SLE"), "C4": _cohort("SLE"),
    "DSDNA": _cohort("SLE"), "MRSS": _cohort("SSC"), "FVC": _cohort("SSC", "IIM"),
    "DLCO": _cohort("SSC", "IIM"), "MMT8": _cohort("IIM"), "ANCATIT": _cohort("AAV")})
PG_1_3 = _shown(PG, whole=ShowIf("DM.CHILDPOT", ("Y",)))

# the investigator's exclusion attestations name the criterion, not its number alone
_EXCLUSIONS = {
    1: ("Severe drug allergy or allergic tendency", "严重药物过敏或过敏倾向"),
    2: ("Uncontrolled or treatment-requiring infection (fungal, bacterial, viral or other; "
        "present or suspected)", "未控制或需要治疗的感染（真菌、细菌、病毒或其他；现有或疑似）"),
    3: ("CNS disease: epilepsy, psychosis, organic brain syndrome, cerebrovascular accident, "
        "encephalitis or CNS vasculitis",
        "中枢神经系统疾病：癫痫、精神病、器质性脑综合征、脑血管意外、脑炎或中枢神经系统血管炎"),
    4: ("Insufficient cardiac function (investigator's judgement; record the LVEF when "
        "measured)", "心功能不全（研究者判断；如已测定请记录LVEF）"),
    5: ("Congenital immunoglobulin deficiency", "先天性免疫球蛋白缺乏"),
    7: ("End-stage renal failure (not counting lupus nephritis)", "终末期肾衰竭（狼疮性肾炎除外）"),
    9: ("Psychiatric disorder or severe cognitive impairment", "精神疾病或严重认知障碍"),
    12: ("Pregnant, or planning to conceive", "妊娠或计划怀孕"),
    13: ("Other reasons the investigator judges unsuitable", "研究者判断的其他不适合原因"),
}
EX_1_3 = _with(EX_1_2, **{
    f"EX{n:02d}": replace(EX_1_2.item(f"EX{n:02d}"), label=f"EX-{n:02d} {en}: present?",
                          label_zh=f"排除标准EX-{n:02d} {zh}：是否存在？")
    for n, (en, zh) in _EXCLUSIONS.items()})

FORMS_1_3 = {**FORMS_1_2, "DM": DM_1_3, "DX": DX_1_3, "DA": DA_1_3, "DAF": DAF_1_3,
             "PG": PG_1_3, "EX": EX_1_3}
BUILD_1_3 = StudyBuild("1.3", EVENTS, FORMS_1_3, CODELISTS_1_2)

BUILDS: dict[str, StudyBuild] = {b.version: b for b in (BUILD_1_0, BUILD_1_1, BUILD_1_2,
                                                        BUILD_1_3)}
CHANGES: dict[str, str] = {
    "1.0": "First version of the study build.",
    "1.1": "Amendment: vital signs record body weight (VS.WEIGHT, kg), so weight loss after "
           "infusion is followed at every visit.",
    "1.2": "Clinical safety: prior treatments and concomitant medications take a coded agent "
           "from the medication dictionary (PT.PTAGENT, CM.CMTRT; OTHER with the name typed "
           "in PTAGOTH/CMTRTOTH) and PT records the investigator's washout judgement "
           "(PTWOJ); diagnosis, prior-treatment, malignancy and other-trial dates may be "
           "partial (YYYY-MM-UN, YYYY-UN-UN); laboratory results may be below or above the "
           "limit of quantification (<x, >x); BVAS v3 is entered as its 56 published items "
           "with the persistent-disease box at baseline (DA) and follow-up (DAF, without the "
           "creatinine bands), and the total is computed; the 2022 AAV classification asks "
           "the nasal finding once (AAV16 dropped); a serious AE records its seriousness "
           "criteria (AESDTH…AESMIE, replacing the free-text AESERCR), the time the site "
           "became aware and the time it was reported to the sponsor.",
    "1.3": "Forms that guide: items and forms are asked only where they apply (show_if). "
           "DM asks childbearing potential of women (CHILDPOT) and the partner's of men "
           "(PARTPOT); DX asks the subtype and the classification items of the chosen "
           "cohort only; DA and DAF ask the cohort's own instrument and tests (DX.COHORT); "
           "the pregnancy test (PG) applies to women of childbearing potential "
           "(DM.CHILDPOT). An item that does not apply is never required and keeps no value. "
           "The exclusion checklist (EX) names each criterion in its label.",
}
BUILD = BUILD_1_3  # the active version: new form instances are entered under it
