"""Synthesis: a synthetic CT angiogram ("digital contrast") from a non-contrast CT.

``SynthesisEngine`` runs one indication's model on a :class:`~NetZeroAICT.volume.Volume`;
``synthesize_file`` does the same from and to files and writes the run record. Models are folders with a card
(``model.json``) and SHA-256-checked safetensors weights; ``train`` makes them from paired cases.
Heavy libraries (torch, MONAI) are imported when first needed.
"""

from .engine import RunRecorder, SynthesisEngine, SynthesisResult
from .guard import InputRefused, NeedsConfirmation
from .inference import InferenceSettings, SynthesisCancelled
from .model_card import ModelCard, find_model_dir, load_model, read_card, save_model
from .record import FootprintSettings
from .run_file import synthesize_file

__all__ = ["SynthesisEngine", "SynthesisResult", "RunRecorder", "synthesize_file", "InferenceSettings",
           "SynthesisCancelled", "InputRefused", "NeedsConfirmation", "ModelCard", "find_model_dir", "load_model",
           "read_card", "save_model", "FootprintSettings"]
