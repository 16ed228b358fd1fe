"""The JSON Schema of a reader-study protocol (YAML or JSON on disk).

Structure only; the rules that span fields (unique ids, truth values that fit their question, the sessions a
crossover needs, files that exist) are checked in :mod:`NetZeroAICT.study.protocol`.
"""

from __future__ import annotations

QUESTION_TYPES = ("bool", "single_choice", "multiple_choice", "likert", "number", "text", "measurement")
QUESTION_ROLES = ("confidence", "diagnosis", "quality", "diameter", "turing", "turing_confidence")
SESSION_KINDS = ("diagnostic", "turing")
ANSWER_POLICIES = ("lock_on_submit", "editable_in_session", "editable")
LAYOUTS = ("one_up", "side_by_side", "four_up", "conventional", "three_over_three")
MODALITIES = ("real", "synthetic")

_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
_PATH = {"type": "string", "minLength": 1, "maxLength": 4096}
_NUMBER = {"type": "number"}

PROTOCOL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "NetZeroAICT reader-study protocol",
    "type": "object",
    "additionalProperties": False,
    "required": ["study_id", "indication", "cases", "readers", "questions", "sessions"],
    "properties": {
        "study_id": _ID,
        "title": {"type": "string", "maxLength": 500},
        "indication": {"type": "string"},
        "seed": {"type": "integer", "minimum": 0},
        "cases": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "real_cta", "synthetic_cta", "truth"],
                "properties": {
                    "id": _ID,
                    "patient_id": {"type": "string", "minLength": 1, "maxLength": 128},
                    "real_cta": _PATH,
                    "synthetic_cta": _PATH,
                    "ncct": _PATH,
                    "truth": {"type": "object", "required": ["abnormal"],
                              "properties": {"abnormal": {"type": "boolean"}}},
                    "training": {"type": "boolean"},
                },
            },
        },
        "readers": {
            "type": "array", "minItems": 1,
            "items": {"type": "object", "additionalProperties": False, "required": ["id"],
                      "properties": {"id": _ID, "name": {"type": "string", "maxLength": 200}}},
        },
        "questions": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["id", "type", "text"],
                "properties": {
                    "id": _ID,
                    "type": {"enum": list(QUESTION_TYPES)},
                    "text": {"type": "string", "minLength": 1, "maxLength": 1000},
                    "help": {"type": "string", "maxLength": 4000},
                    "required": {"type": "boolean"},
                    "choices": {"type": "array", "minItems": 2,
                                "items": {"type": "string", "minLength": 1, "maxLength": 200}},
                    "anchors": {"type": "object", "minProperties": 2,
                                "propertyNames": {"pattern": r"^-?[0-9]{1,3}$"},
                                "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 200}},
                    "min": _NUMBER,
                    "max": _NUMBER,
                    "unit": {"type": "string", "maxLength": 20},
                    "role": {"enum": list(QUESTION_ROLES)},
                },
            },
        },
        "sessions": {
            "type": "array", "minItems": 1,
            "items": {"type": "object", "additionalProperties": False, "required": ["id", "kind"],
                      "properties": {"id": _ID, "kind": {"enum": list(SESSION_KINDS)},
                                     "washout_days": {"type": "number", "minimum": 0, "maximum": 3650}}},
        },
        "hanging_protocol": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "layout": {"enum": list(LAYOUTS)},
                "window_presets": {
                    "type": "array", "minItems": 1,
                    "items": {"type": "object", "additionalProperties": False,
                              "required": ["name", "window", "level"],
                              "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 50},
                                             "window": {"type": "number", "exclusiveMinimum": 0},
                                             "level": _NUMBER}}},
                "linked": {"type": "boolean"},
                "mip_slab_mm": {"type": "number", "minimum": 0, "maximum": 200},
                "show_3d": {"type": "boolean"},
            },
        },
        "answer_policy": {"enum": list(ANSWER_POLICIES)},
    },
}
