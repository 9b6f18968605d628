"""Health prescription (健康处方): personal lifestyle and self-care advice, in Chinese, generated from the
patient's own data — one item per section (限盐, 合理膳食, 适量运动, 戒烟, 限酒, 控制体重, 规律服药, 自我监测).

Pure: ``generate(facts)`` reads a ``PatientFacts`` and returns text. Where a fact is missing the item says
what to record or measure at the next follow-up and gives the general target; it never states a value the
data does not hold. Every figure in the text is either the patient's own or a guideline figure below.

Sources:
- 中国居民膳食指南 (2022) (Chinese Dietary Guidelines): salt < 5 g/day (also WHO); vegetables ≥ 300 g,
  fruit 200–350 g, fish, poultry, eggs and lean meat 120–200 g, cooking oil 25–30 g a day; the drink
  equivalents of 15 g / 25 g of ethanol (as given in the 2016 edition).
- CHG 2018 (Chinese hypertension guideline): salt < 6 g/day (we use the stricter 5 g above); alcohol
  ≤ 25 g/day for men, ≤ 15 g/day for women; moderate aerobic exercise 30 min a day, 5–7 days a week;
  no moderate or vigorous exercise while resting BP ≥ 180/110; quit smoking; home BP by an upper-arm
  validated device, hypertensive at a mean ≥ 135/85; the "722" protocol; < 130/80 with diabetes if tolerated.
- CDS 2020 (Chinese type-2 diabetes guideline): ≥ 150 min/week moderate aerobic exercise plus resistance
  training 2–3 times a week; overweight/obese patients lose ≥ 5 % of weight in 3–6 months; capillary
  glucose 2–4 times a week on oral agents when controlled; HbA1c every 3–6 months; hypoglycaemia
  (≤ 3.9 mmol/L) is treated with 15–20 g of glucose; alcohol may cause hypoglycaemia.
- WS/T 428-2013 (成人体重判定): BMI 18.5–23.9 normal, ≥ 24 overweight, ≥ 28 obese; waist ≥ 90 cm (men) /
  ≥ 85 cm (women) central obesity.
- BPHS 2017: follow-up form options for smoking, drinking, exercise, salt (轻/中/重), diet and adherence;
  targets and urgent values (``chronic.definitions``). 12320: the national health hotline, which gives
  smoking-cessation counselling.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from healthbrain.chronic.definitions import (
    BP_TARGET_DIABETES_GUIDELINE,
    FASTING_GLUCOSE_TARGET,
    HBA1C_TARGET,
    HOME_BP_THRESHOLD,
    PROTOCOL_722_DAYS,
    URGENT_DBP,
    URGENT_GLUCOSE_HIGH,
    URGENT_GLUCOSE_LOW,
    URGENT_SBP,
    Adherence,
    Disease,
    bp_target,
)

# --- guideline figures (sources in the module docstring) ---------------------------------------------
SALT_MAX_G: Final = 5  # 膳食指南 2022 / WHO (CHG 2018: 6 g)
SALT_SPOON_G: Final = 2  # the common 2-gram salt-restriction spoon (限盐勺)
BMI_UNDERWEIGHT: Final = 18.5  # WS/T 428-2013: below is underweight
BMI_OVERWEIGHT: Final = 24.0  # WS/T 428-2013: 18.5–23.9 normal, ≥ 24 overweight
BMI_OBESE: Final = 28.0  # WS/T 428-2013: ≥ 28 obese
BMI_NORMAL_RANGE: Final = "18.5～23.9"
WAIST_MAX_CM: Final = {True: 90, False: 85}  # male → limit; WS/T 428-2013 central obesity at or above
WEIGHT_LOSS_PERCENT: Final = 5  # CDS 2020: lose ≥ 5 % in 3–6 months; the prescription says 6 months
WEIGHT_LOSS_MONTHS: Final = 6
EXERCISE_MIN_PER_WEEK: Final = 150  # CHG 2018 / CDS 2020, moderate intensity
EXERCISE_MIN_PER_DAY: Final = 30  # CHG 2018
EXERCISE_DAYS: Final = "5～7"  # CHG 2018: days a week
RESISTANCE_PER_WEEK: Final = "2～3"  # CDS 2020: resistance training sessions a week (diabetes)
# CHG 2018 gives ≤ 25 g (men) / ≤ 15 g (women); note 膳食指南 2022 now sets ≤ 15 g for every adult.
ALCOHOL_MAX_G: Final = {True: 25, False: 15}
# 膳食指南: what the limit is in drinks (beer, wine, 38° liquor, high-proof liquor).
ALCOHOL_EQUIVALENT: Final = {
    25: "啤酒750毫升、葡萄酒250毫升、38度白酒75克或高度白酒50克",
    15: "啤酒450毫升、葡萄酒150毫升、38度白酒50克或高度白酒30克",
}
HYPO_GLUCOSE_G: Final = "15～20"  # CDS 2020: grams of glucose for hypoglycaemia
QUIT_LINE: Final = "12320"  # national health hotline (卫生健康热线), smoking-cessation counselling
GLUCOSE_WEEKLY_CONTROLLED: Final = "2～4"  # CDS 2020: tests a week on oral agents, controlled
GLUCOSE_DAYS_UNCONTROLLED: Final = 4  # house choice: at least 4 days a week, fasting + 2-h post-prandial
BP_DAYS_CONTROLLED: Final = "1～2"  # CHG 2018: long-term home monitoring, 1–2 days a week
HBA1C_MONTHS: Final = "3～6"  # CDS 2020


@dataclass(frozen=True, slots=True)
class PatientFacts:
    age: int
    male: bool
    diseases: frozenset[Disease]
    sbp: float | None = None  # latest office BP, mmHg
    dbp: float | None = None
    fasting_glucose: float | None = None  # latest, mmol/L
    hba1c: float | None = None  # latest, %
    height_cm: float | None = None
    weight_kg: float | None = None
    waist_cm: float | None = None
    smoking: str | None = None  # "never" / "former" / "current"
    cigarettes_per_day: int | None = None
    drinking: str | None = None  # "never" / "occasional" / "often" / "daily"
    alcohol_g_per_day: float | None = None
    exercise: str | None = None  # "daily" / "weekly" / "occasional" / "never"
    exercise_minutes_per_week: int | None = None
    salt: str | None = None  # "light" / "moderate" / "heavy" (BPHS 摄盐 轻/中/重)
    diet: str | None = None  # "balanced" / "meat" / "vegetarian" / "salty" / "sweet"
    adherence: Adherence | None = None
    medications: tuple[str, ...] = ()  # names, Chinese
    risk_tier: str | None = None  # "low" / "medium" / "high" / "very_high" (CHG 2018)
    has_bp_device: bool = False
    has_glucose_device: bool = False
    home_bp_mean: tuple[float, float] | None = None  # mean home (systolic, diastolic), mmHg


class Section(StrEnum):
    SALT = "salt"
    DIET = "diet"
    EXERCISE = "exercise"
    SMOKING = "smoking"
    ALCOHOL = "alcohol"
    WEIGHT = "weight"
    ADHERENCE = "adherence"
    MONITORING = "monitoring"


SECTION_NAMES: Final[dict[Section, tuple[str, str]]] = {
    Section.SALT: ("限盐", "Salt reduction"),
    Section.DIET: ("合理膳食", "Healthy diet"),
    Section.EXERCISE: ("适量运动", "Physical activity"),
    Section.SMOKING: ("戒烟", "Stop smoking"),
    Section.ALCOHOL: ("限酒", "Limit alcohol"),
    Section.WEIGHT: ("控制体重", "Weight control"),
    Section.ADHERENCE: ("规律服药", "Take medicines regularly"),
    Section.MONITORING: ("自我监测", "Self-monitoring"),
}


@dataclass(frozen=True, slots=True)
class PrescriptionItem:
    section: Section
    text: str  # the advice, in Chinese, concrete and personal
    basis: str  # what in the data triggered it, short Chinese


# The BPHS form's option labels, for the basis line.
SALT_NAMES: Final = {"light": "轻", "moderate": "中", "heavy": "重"}
DIET_NAMES: Final = {
    "balanced": "荤素均衡",
    "meat": "荤食为主",
    "vegetarian": "素食为主",
    "salty": "嗜盐",
    "sweet": "嗜糖",
}
DRINKING_NAMES: Final = {"never": "从不", "occasional": "偶尔", "often": "经常", "daily": "每天"}
EXERCISE_NAMES: Final = {"daily": "每天", "weekly": "每周一次以上", "occasional": "偶尔", "never": "不运动"}
ADHERENCE_NAMES: Final = {Adherence.REGULAR: "规律", Adherence.INTERMITTENT: "间断", Adherence.NONE: "不服药"}
RISK_NAMES: Final = {"low": "低危", "medium": "中危", "high": "高危", "very_high": "很高危"}


def generate(f: PatientFacts) -> list[PrescriptionItem]:
    """The health prescription: one item per section, in Section order, personalised by the data."""
    return [
        _salt(f),
        _diet(f),
        _exercise(f),
        _smoking(f),
        _alcohol(f),
        _weight(f),
        _adherence(f),
        _monitoring(f),
    ]


# --- helpers --------------------------------------------------------------------------------------------
def _one(x: float) -> str:
    """One decimal, always (BMI, glucose, HbA1c)."""
    return f"{x:.1f}"


def _num(x: float) -> str:
    """One decimal, without a trailing .0 (kilograms, grams, centimetres)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _bp(sbp: float, dbp: float) -> str:
    return f"{sbp:.0f}/{dbp:.0f} mmHg"


def _has(f: PatientFacts, disease: Disease) -> bool:
    return disease in f.diseases


def _what(f: PatientFacts) -> str:
    """What the patient is controlling, for a sentence: 血压 / 血糖 / 血压和血糖."""
    htn, dm = _has(f, Disease.HYPERTENSION), _has(f, Disease.DIABETES)
    if htn and dm:
        return "血压和血糖"
    return "血糖" if dm else "血压"


def _sex(f: PatientFacts) -> str:
    return "男性" if f.male else "女性"


def _bp_uncontrolled(f: PatientFacts) -> bool | None:
    """True when the latest office BP or the home mean is above target, False when what is known is at
    target, None when there is no BP at all."""
    known: list[bool] = []
    target = bp_target(f.age)
    if f.sbp is not None:
        known.append(f.sbp >= target[0])
    if f.dbp is not None:
        known.append(f.dbp >= target[1])
    if f.home_bp_mean is not None:
        known.append(f.home_bp_mean[0] >= HOME_BP_THRESHOLD[0] or f.home_bp_mean[1] >= HOME_BP_THRESHOLD[1])
    return any(known) if known else None


def _glucose_uncontrolled(f: PatientFacts) -> bool | None:
    """As _bp_uncontrolled; a fasting glucose at or below the hypoglycaemia line is not controlled either."""
    known: list[bool] = []
    if f.fasting_glucose is not None:
        known.append(f.fasting_glucose >= FASTING_GLUCOSE_TARGET or f.fasting_glucose <= URGENT_GLUCOSE_LOW)
    if f.hba1c is not None:
        known.append(f.hba1c >= HBA1C_TARGET)
    return any(known) if known else None


def _bmi(f: PatientFacts) -> float | None:
    if f.height_cm and f.weight_kg and f.height_cm > 0 and f.weight_kg > 0:
        return f.weight_kg / (f.height_cm / 100) ** 2
    return None


# --- sections -------------------------------------------------------------------------------------------
def _salt(f: PatientFacts) -> PrescriptionItem:
    target = (
        f"每天食盐不超过{SALT_MAX_G}克（用{SALT_SPOON_G}克的限盐勺，每天不超过两勺半），"
        "酱油、咸菜、腌腊制品和加工食品里的盐也要算在内。"
    )
    why = "少吃盐能直接降低血压。" if _has(f, Disease.HYPERTENSION) else ""
    level = f.salt if f.salt in SALT_NAMES else None
    if level == "heavy" or (level is None and f.diet == "salty"):
        basis = "摄盐情况：重" if level else "饮食习惯：嗜盐"
        text = (
            f"您平时口味偏咸，吃盐偏多。{why}{target}"
            "做菜少放盐、出锅前再放，少吃咸菜和腌制品，用醋、葱姜蒜等调味，逐步把口味调淡。"
        )
    elif level == "moderate":
        basis = "摄盐情况：中"
        text = f"您目前吃盐量中等，还需要进一步减少。{why}{target}"
    elif level == "light":
        basis = "摄盐情况：轻"
        text = f"您平时口味清淡，请继续保持。{target}"
    else:
        basis = "未记录摄盐情况"
        text = f"本次未记录您的摄盐情况，下次随访时请告诉医生您平时口味的咸淡（轻、中、重）。{target}"
    return PrescriptionItem(Section.SALT, text, basis)


def _diet(f: PatientFacts) -> PrescriptionItem:
    general = (
        "食物要多样，每天蔬菜不少于300克、水果200～350克，多选全谷物、杂豆、低脂奶和豆制品，"
        "少吃肥肉和油炸食品，烹调油每天25～30克。"
    )
    dm = (
        "控制主食总量、粗细搭配，定时定量进餐，少吃甜食、不喝含糖饮料，水果放在两餐之间适量吃。"
        if _has(f, Disease.DIABETES)
        else ""
    )
    diet = f.diet if f.diet in DIET_NAMES else None
    if diet is None:
        basis = "未记录饮食习惯"
        text = f"本次未记录您的饮食习惯，下次随访时请告诉医生您平时的饮食（荤素、咸甜）。{general}{dm}"
        return PrescriptionItem(Section.DIET, text, basis)
    basis = f"饮食习惯：{DIET_NAMES[diet]}"
    personal = {
        "balanced": "您的饮食荤素搭配较均衡，请继续保持。",
        "meat": "您的饮食以荤食为主。请减少肥肉、动物内脏和红肉，鱼、禽、蛋和瘦肉每天合计120～200克，多用鱼和豆制品代替部分畜肉。",
        "vegetarian": "您以素食为主。请注意吃够优质蛋白质（豆制品、奶类、蛋类），主食不要过多。",
        "salty": "您饮食偏咸，请按“限盐”一项减少食盐。",
        "sweet": "您喜欢吃甜食。请少吃糕点、糖果，不喝含糖饮料。"
        + ("甜食会使血糖明显升高。" if _has(f, Disease.DIABETES) else ""),
    }[diet]
    return PrescriptionItem(Section.DIET, f"{personal}{general}{dm}", basis)


def _exercise(f: PatientFacts) -> PrescriptionItem:
    target = (
        f"每周{EXERCISE_DAYS}天、每天{EXERCISE_MIN_PER_DAY}分钟中等强度的有氧运动（如快走、骑自行车、太极拳，"
        f"运动时心跳加快、微微出汗、能说话但不能唱歌），每周累计不少于{EXERCISE_MIN_PER_WEEK}分钟"
    )
    dm = (
        f"每周再做{RESISTANCE_PER_WEEK}次抗阻运动（如弹力带、哑铃），两次之间隔开一天。"
        "运动前后注意监测血糖，随身带些糖果，防止低血糖。"
        if _has(f, Disease.DIABETES)
        else ""
    )
    minutes = f.exercise_minutes_per_week
    frequency = f.exercise if f.exercise in EXERCISE_NAMES else None
    if minutes is not None and minutes >= 0:
        basis = f"每周运动约{minutes}分钟"
        if minutes >= EXERCISE_MIN_PER_WEEK:
            text = f"您目前每周运动约{minutes}分钟，已达到每周{EXERCISE_MIN_PER_WEEK}分钟的目标，请继续保持。"
        else:
            short = EXERCISE_MIN_PER_WEEK - minutes
            text = (
                f"您目前每周运动约{minutes}分钟，距每周{EXERCISE_MIN_PER_WEEK}分钟的目标还差{short}分钟。"
                f"建议逐步增加到{target}。"
            )
    elif frequency is not None:
        basis = f"运动频率：{EXERCISE_NAMES[frequency]}"
        text = {
            "daily": f"您每天都运动，请继续保持，并做到{target}。",
            "weekly": f"您每周都有运动，但还不够。建议增加到{target}。",
            "occasional": f"您只是偶尔运动。建议逐步增加到{target}。",
            "never": f"您目前不运动。建议从每天10分钟快走开始，逐步增加到{target}。",
        }[frequency]
    else:
        basis = "未记录运动情况"
        text = f"本次未记录您的运动情况，下次随访时请告诉医生每周运动几次、每次多长时间。建议{target}。"
    text += dm
    if f.sbp is not None and f.dbp is not None and (f.sbp >= URGENT_SBP or f.dbp >= URGENT_DBP):
        # CHG 2018: no moderate or vigorous exercise until resting BP is below 180/110
        text += (
            f"但您最近一次血压为{_bp(f.sbp, f.dbp)}，在血压降到{URGENT_SBP}/{URGENT_DBP} mmHg以下之前，"
            "请暂停中等及以上强度的运动，先请医生调整治疗。"
        )
        basis += f"；血压{_bp(f.sbp, f.dbp)}"
    return PrescriptionItem(Section.EXERCISE, text, basis)


def _smoking(f: PatientFacts) -> PrescriptionItem:
    harm = "吸烟会损伤血管，明显增加心脑血管病" + ("和糖尿病并发症" if _has(f, Disease.DIABETES) else "") + "的风险。"
    quit_help = (
        f"请下决心彻底戒烟，越早越好；可以到医院戒烟门诊就诊，或拨打{QUIT_LINE}卫生健康热线咨询戒烟，"
        "家庭医生也可以帮您制定戒烟计划。同时避免吸二手烟。"
    )
    if f.smoking == "current":
        n = f.cigarettes_per_day
        if n is not None and n > 0:
            basis = f"吸烟：每天{n}支"
            text = f"您目前每天吸烟约{n}支。{harm}{quit_help}"
        else:
            basis = "目前吸烟"
            text = f"您目前吸烟。{harm}{quit_help}"
    elif f.smoking == "former":
        basis = "已戒烟"
        text = "您已经戒烟，请继续坚持，不要复吸，并远离二手烟。"
    elif f.smoking == "never":
        basis = "从不吸烟"
        text = "您不吸烟，请继续保持，并避免吸二手烟。"
    else:
        basis = "未记录吸烟情况"
        text = "本次未记录您的吸烟情况，下次随访时请告诉医生是否吸烟、每天吸几支。吸烟者应彻底戒烟，并避免吸二手烟。"
    return PrescriptionItem(Section.SMOKING, text, basis)


def _alcohol(f: PatientFacts) -> PrescriptionItem:
    limit = ALCOHOL_MAX_G[f.male]
    cap = f"{_sex(f)}每天酒精不超过{limit}克（约相当于{ALCOHOL_EQUIVALENT[limit]}）"
    dm = "饮酒可能引起低血糖，服用降糖药或使用胰岛素时更要注意，千万不要空腹饮酒。" if _has(f, Disease.DIABETES) else ""
    grams = f.alcohol_g_per_day
    drinking = f.drinking if f.drinking in DRINKING_NAMES else None
    if grams is not None and grams > 0:
        basis = f"日饮酒约{_num(grams)}克酒精"
        if grams > limit:
            text = (
                f"您每天饮酒约{_num(grams)}克酒精，超过{_sex(f)}每天{limit}克的上限。建议戒酒；"
                f"一时做不到的，先把饮酒量减下来，{cap}。"
            )
        else:
            text = (
                f"您每天饮酒约{_num(grams)}克酒精，未超过上限，但饮酒不利于控制{_what(f)}，最好不饮酒；如饮酒，{cap}。"
            )
    elif drinking == "never" or grams == 0:
        basis = "不饮酒"
        text = "您不饮酒，请继续保持。"
        dm = ""
    elif drinking is not None:
        basis = f"饮酒频率：{DRINKING_NAMES[drinking]}"
        if drinking == "occasional":
            text = f"您偶尔饮酒。饮酒不利于控制{_what(f)}，最好不饮酒；如饮酒，{cap}。"
        else:
            text = f"您{DRINKING_NAMES[drinking]}饮酒。建议戒酒；一时做不到的，先减少饮酒量，{cap}。"
    else:
        basis = "未记录饮酒情况"
        text = f"本次未记录您的饮酒情况，下次随访时请告诉医生饮酒的频率和每次的量。建议不饮酒；如饮酒，{cap}。"
    return PrescriptionItem(Section.ALCOHOL, text + dm, basis)


def _weight(f: PatientFacts) -> PrescriptionItem:
    waist_max = WAIST_MAX_CM[f.male]
    ranges = f"成人体质指数宜保持在{BMI_NORMAL_RANGE}，{_sex(f)}腰围应小于{waist_max}厘米。"
    sentences: list[str] = []
    basis: list[str] = []
    bmi = _bmi(f)
    if bmi is not None and f.weight_kg is not None and f.height_cm is not None:
        if bmi < BMI_UNDERWEIGHT:
            label = "体重过低"
            sentences.append(f"您目前体质指数{_one(bmi)}，体重过低。请三餐规律，吃够主食和蛋白质。")
            if _has(f, Disease.DIABETES):
                sentences.append("体重下降也可能与血糖控制不好有关，")
            sentences.append("如近期体重明显下降，请尽快告诉医生。")
        elif bmi < BMI_OVERWEIGHT:
            label = "正常"
            sentences.append(f"您目前体质指数{_one(bmi)}，在正常范围（{BMI_NORMAL_RANGE}），请继续保持。")
        else:
            label = "超重" if bmi < BMI_OBESE else "肥胖"
            lose = f.weight_kg * WEIGHT_LOSS_PERCENT / 100
            goal = BMI_OVERWEIGHT * (f.height_cm / 100) ** 2
            sentences.append(
                f"您目前体质指数{_one(bmi)}，属于{label}。建议{WEIGHT_LOSS_MONTHS}个月内减重{WEIGHT_LOSS_PERCENT}%"
                f"（约{_num(lose)}公斤），目标体质指数<{BMI_OVERWEIGHT:.0f}（即体重约{_num(goal)}公斤以下）。"
                "通过少吃油脂和甜食、主食适量、不吃夜宵，并配合运动，循序渐进地减重。"
            )
        basis.append(f"体质指数{_one(bmi)}（{label}）")
    elif f.weight_kg is not None:
        sentences.append(f"您目前体重{_num(f.weight_kg)}公斤，但缺少身高，无法计算体质指数，下次随访时请测量身高。")
        basis.append("缺少身高")
    elif f.height_cm is not None:
        sentences.append("本次缺少体重数据，下次随访时请测量体重。")
        basis.append("缺少体重")
    else:
        sentences.append("本次缺少身高和体重数据，下次随访时请测量身高、体重和腰围。")
        basis.append("缺少身高、体重")
    if f.waist_cm is not None:
        if f.waist_cm >= waist_max:
            sentences.append(
                f"您的腰围{_num(f.waist_cm)}厘米，达到{_sex(f)}{waist_max}厘米的中心型肥胖标准，需要减少腹部脂肪。"
            )
        else:
            sentences.append(f"您的腰围{_num(f.waist_cm)}厘米，在{_sex(f)}小于{waist_max}厘米的范围内。")
        basis.append(f"腰围{_num(f.waist_cm)}厘米")
    elif bmi is not None or f.weight_kg is not None or f.height_cm is not None:
        sentences.append(f"下次随访时请测量腰围（{_sex(f)}应小于{waist_max}厘米）。")
    if bmi is None:
        sentences.append(ranges)
    return PrescriptionItem(Section.WEIGHT, "".join(sentences), "；".join(basis))


def _adherence(f: PatientFacts) -> PrescriptionItem:
    what = _what(f)
    sentences: list[str] = []
    basis: list[str] = []
    meds = "、".join(f.medications)
    if meds:
        sentences.append(f"您目前服用：{meds}。")
    if f.adherence is Adherence.REGULAR:
        sentences.append("您能按医嘱规律服药，请继续坚持，不要自行停药、减量或换药。")
        uncontrolled = [
            name
            for name, bad in (("血压", _bp_uncontrolled(f)), ("血糖", _glucose_uncontrolled(f)))
            if bad and name in what
        ]
        if uncontrolled:
            sentences.append(f"目前{'和'.join(uncontrolled)}仍未达标，请按时复诊，由医生调整用药，不要自行加量。")
    elif f.adherence is Adherence.INTERMITTENT:
        sentences.append(
            f"您有时漏服或间断服药。间断服药会使{what}波动，增加心脑血管意外的风险。"
            "建议每天固定时间服药（如早饭后），用分格药盒或手机闹钟提醒；"
            "如因不良反应或其他顾虑停药，请告诉医生，由医生调整方案。"
        )
    elif f.adherence is Adherence.NONE:
        if meds:
            sentences.append(
                f"您目前没有按医嘱服用上述药物。自行停药可使{what}明显升高，请尽快恢复服药；"
                "如有不良反应或顾虑，请与医生商量调整。"
            )
        else:
            sentences.append(
                "您目前未服药。是否需要用药请由医生评估决定，如医生开了药，请按医嘱规律服用；"
                "同时坚持健康的生活方式，并按时随访复查。"
            )
    else:
        sentences.append(
            "本次未记录您的服药情况，下次随访时请带上正在服用的全部药品（或药盒），由医生核对。"
            "请按医嘱规律服药，不要自行停药或减量。"
        )
    basis.append(f"服药依从性：{ADHERENCE_NAMES[f.adherence]}" if f.adherence else "未记录服药情况")
    if f.risk_tier in ("high", "very_high"):
        tier = RISK_NAMES[f.risk_tier]
        sentences.append(f"您的心血管风险分层为{tier}，坚持规律服药尤其重要。")
        basis.append(f"风险分层：{tier}")
    return PrescriptionItem(Section.ADHERENCE, "".join(sentences), "；".join(basis))


def _monitoring(f: PatientFacts) -> PrescriptionItem:
    htn, dm = _has(f, Disease.HYPERTENSION), _has(f, Disease.DIABETES)
    sentences: list[str] = []
    basis: list[str] = []
    if htn:
        _bp_plan(f, sentences, basis, diabetes=dm)
    elif dm and f.sbp is not None and f.dbp is not None and _bp_uncontrolled(f):
        sentences.append(f"您最近一次血压{_bp(f.sbp, f.dbp)}，偏高，请告诉医生，每次随访时测量血压。")
        basis.append(f"血压{_bp(f.sbp, f.dbp)}")
    if dm:
        _glucose_plan(f, sentences, basis)
    if not (htn or dm):
        sentences.append("请每年至少测量一次血压和空腹血糖。")
        basis.append("未登记高血压或糖尿病")
    return PrescriptionItem(Section.MONITORING, "".join(sentences), "；".join(basis))


def _bp_plan(f: PatientFacts, sentences: list[str], basis: list[str], *, diabetes: bool) -> None:
    target = bp_target(f.age)
    said: list[str] = []  # the values as the sentence says them
    noted: list[str] = []  # and as the basis line notes them
    if f.sbp is not None and f.dbp is not None:
        said.append(f"最近一次血压{_bp(f.sbp, f.dbp)}")
        noted.append(f"血压{_bp(f.sbp, f.dbp)}")
    if f.home_bp_mean is not None:
        said.append(f"近期家庭血压平均{_bp(*f.home_bp_mean)}")
        noted.append(f"家庭血压均值{_bp(*f.home_bp_mean)}")
    protocol = (
        f"请按“722”方案测量家庭血压：连续{PROTOCOL_722_DAYS}天，每天早晨（起床后1小时内、服药和早饭前）"
        "和晚上（睡前）各测1次，每次测2遍、间隔1分钟，记录下来，下次随访时带给医生。"
    )
    home = f"{HOME_BP_THRESHOLD[0]}/{HOME_BP_THRESHOLD[1]} mmHg"
    status = _bp_uncontrolled(f)
    if status is None:
        sentences.append(f"本次缺少血压数据，下次随访时请测量血压。{protocol}家庭血压平均值应低于{home}。")
        basis.append("缺少血压数据")
    elif status:
        sentences.append(
            f"您{'，'.join(said)}，未达到控制目标（诊室血压<{target[0]}/{target[1]} mmHg，家庭血压<{home}）。"
        )
        if f.sbp is not None and f.dbp is not None and (f.sbp >= URGENT_SBP or f.dbp >= URGENT_DBP):
            sentences.append(f"血压达到{URGENT_SBP}/{URGENT_DBP} mmHg及以上，需要紧急处理，请尽快联系家庭医生或就医。")
        sentences.append(protocol)
        basis.append("，".join(noted) + "，未达标")
    else:
        sentences.append(
            f"您{'，'.join(said)}，已达到控制目标。请每周选{BP_DAYS_CONTROLLED}天测量家庭血压，"
            f"早晚各1次、每次测2遍。家庭血压平均值应低于{home}。"
        )
        basis.append("，".join(noted) + "，已达标")
    if diabetes:
        low = BP_TARGET_DIABETES_GUIDELINE
        sentences.append(f"合并糖尿病时，如能耐受，血压最好控制在{low[0]}/{low[1]} mmHg以下。")
    if f.has_bp_device:
        sentences.append("请用您家中的电子血压计按上述方法测量。")
        basis.append("有血压计")
    else:
        sentences.append("建议配备一台经过认证的上臂式电子血压计（不推荐手腕式）。")
        basis.append("无血压计")


def _glucose_plan(f: PatientFacts, sentences: list[str], basis: list[str]) -> None:
    values: list[str] = []
    if f.fasting_glucose is not None:
        values.append(f"空腹血糖{_one(f.fasting_glucose)} mmol/L")
    if f.hba1c is not None:
        values.append(f"糖化血红蛋白{_one(f.hba1c)}%")
    targets = f"空腹血糖<{FASTING_GLUCOSE_TARGET} mmol/L，糖化血红蛋白<{HBA1C_TARGET:.0f}%"
    status = _glucose_uncontrolled(f)
    if status is None:
        sentences.append(
            f"本次缺少血糖数据，下次随访时请测空腹血糖。平时请每周监测{GLUCOSE_WEEKLY_CONTROLLED}次"
            f"空腹或餐后2小时指尖血糖并记录。"
        )
        basis.append("缺少血糖数据")
    elif status:
        fg = f.fasting_glucose
        if fg is not None and fg <= URGENT_GLUCOSE_LOW:
            sentences.append(
                f"您目前{'，'.join(values)}，偏低（≤{URGENT_GLUCOSE_LOW} mmol/L为低血糖），需要紧急处理，"
                "请尽快联系家庭医生或就医，由医生调整降糖方案。"
            )
        else:
            sentences.append(f"您目前{'，'.join(values)}，未达到控制目标（{targets}）。")
            if fg is not None and fg >= URGENT_GLUCOSE_HIGH:
                sentences.append(
                    f"血糖达到{URGENT_GLUCOSE_HIGH} mmol/L及以上，需要紧急处理，请尽快联系家庭医生或就医。"
                )
        sentences.append(
            f"请每周至少{GLUCOSE_DAYS_UNCONTROLLED}天监测指尖血糖，每天测空腹和一次餐后2小时血糖，"
            "记录下来，下次随访时带给医生。"
        )
        basis.append("，".join(values) + "，未达标")
    else:
        sentences.append(
            f"您目前{'，'.join(values)}，已达到控制目标。请每周监测{GLUCOSE_WEEKLY_CONTROLLED}次"
            "空腹或餐后2小时指尖血糖。"
        )
        basis.append("，".join(values) + "，已达标")
    sentences.append(
        f"每{HBA1C_MONTHS}个月到医院查一次糖化血红蛋白。如出现心慌、出汗、手抖、饥饿感，可能是低血糖，"
        f"请立即测血糖，并吃{HYPO_GLUCOSE_G}克糖（如糖块、含糖饮料）。"
    )
    if f.has_glucose_device:
        sentences.append("请用您家中的血糖仪按上述频率测量。")
        basis.append("有血糖仪")
    else:
        sentences.append("建议配备一台血糖仪，并请医生或护士教您正确的采血和测量方法。")
        basis.append("无血糖仪")
