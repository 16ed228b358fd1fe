"""CT characterisation and input safety.

    from NetZeroAICT.characterise import characterise, check_input, suggest_indication

    c = characterise("ncct.nii.gz")        # is_ct, phase (+ confidence), blood_pool_hu, regions, DICOM facts
    check = check_input(volume, "aorta")   # status 'ok' | 'warn' | 'refuse', reasons as full sentences
    suggest_indication(c)                  # 'aorta', 'pulmonary', … or None

Everything is measured on the image (HU distribution, blood pool found at the aorta, in the skull or in the
limbs, body regions from lungs, skull, pelvis and legs); DICOM header facts are reported beside the
measurements and only nudge the phase confidence.
"""

from .core import characterise
from .result import PHASES, Characterisation, InputCheck
from .safety import check_input, suggest_indication

__all__ = ["characterise", "check_input", "suggest_indication", "Characterisation", "InputCheck", "PHASES"]
