"""Codes the platform reasons with, defined once: LOINC observations, ICD-10 condition groups.

Sources: LOINC 2.77 (loinc.org); ICD-10 (WHO 2019, Chinese clinical edition GB/T 14396 uses the
same three-character categories); PRODUCT.md "Standards it speaks".
"""

from __future__ import annotations

from typing import Final

# --- LOINC ---------------------------------------------------------------------------------
BP_PANEL: Final = "85354-9"  # Blood pressure panel with all children optional
SYSTOLIC_BP: Final = "8480-6"  # Systolic blood pressure, mm[Hg]
DIASTOLIC_BP: Final = "8462-4"  # Diastolic blood pressure, mm[Hg]
HEART_RATE: Final = "8867-4"  # Heart rate, /min
GLUCOSE_CAPILLARY: Final = "14743-9"  # Glucose [Moles/volume] in Capillary blood by Glucometer
GLUCOSE_FASTING: Final = "14771-0"  # Fasting glucose [Moles/volume] in Serum or Plasma
HBA1C: Final = "4548-4"  # Hemoglobin A1c/Hemoglobin.total in Blood, %
BODY_HEIGHT: Final = "8302-2"  # cm
BODY_WEIGHT: Final = "29463-7"  # kg
BMI: Final = "39156-5"  # kg/m2
WAIST: Final = "8280-0"  # Waist circumference, cm
BODY_TEMPERATURE: Final = "8310-5"  # Cel
TOTAL_CHOLESTEROL: Final = "14647-2"  # Cholesterol [Moles/volume] in Serum or Plasma
CREATININE: Final = "14682-9"  # Creatinine [Moles/volume] in Serum or Plasma, umol/L

LOINC_NAMES: Final[dict[str, tuple[str, str, str]]] = {
    # code: (Chinese name, English name, UCUM unit)
    SYSTOLIC_BP: ("收缩压", "Systolic BP", "mm[Hg]"),
    DIASTOLIC_BP: ("舒张压", "Diastolic BP", "mm[Hg]"),
    HEART_RATE: ("心率", "Heart rate", "/min"),
    GLUCOSE_CAPILLARY: ("指尖血糖", "Capillary glucose", "mmol/L"),
    GLUCOSE_FASTING: ("空腹血糖", "Fasting glucose", "mmol/L"),
    HBA1C: ("糖化血红蛋白", "HbA1c", "%"),
    BODY_HEIGHT: ("身高", "Height", "cm"),
    BODY_WEIGHT: ("体重", "Weight", "kg"),
    BMI: ("体质指数", "BMI", "kg/m2"),
    WAIST: ("腰围", "Waist", "cm"),
    BODY_TEMPERATURE: ("体温", "Body temperature", "Cel"),
    TOTAL_CHOLESTEROL: ("总胆固醇", "Total cholesterol", "mmol/L"),
    CREATININE: ("血肌酐", "Creatinine", "umol/L"),
}

# How UCUM units read on a page.
UNIT_DISPLAY: Final[dict[str, str]] = {"mm[Hg]": "mmHg", "Cel": "℃", "kg/m2": "kg/m²", "umol/L": "μmol/L"}


def display_order(code: str) -> int:
    """Position of a code on the record page: vital signs first, in the order of LOINC_NAMES."""
    order = list(LOINC_NAMES)
    return order.index(code) if code in order else len(order)


# --- ICD-10 groups (three-character prefixes) ---------------------------------------------
HYPERTENSION: Final = ("I10", "I11", "I12", "I13", "I15")  # hypertensive diseases
TYPE2_DIABETES: Final = ("E11", "E14")  # E14 (unspecified) is how many Chinese clinics code T2DM
PREGNANCY: Final = ("Z33", "Z34", "Z35", "O")  # pregnant state, supervision of pregnancy, chapter XV
CHRONIC_KEY_POPULATION: Final = HYPERTENSION + TYPE2_DIABETES  # BPHS chronic-disease management
