"""Classical saliency models, faithful to their original MATLAB code.

Importing this package registers every classical model with
:mod:`salscope.models.registry`. Each module below calls ``register_model`` at import.
"""

from importlib import import_module

# One line per model module; each registers its model name(s) on import.
_MODULES: list[str] = [
    "itti_koch",
    "gbvs",
    "center_bias",
    "spectral_residual",
    "signature",
    "bms",
    "aim",
    "sun",
]

for _module in _MODULES:
    import_module(f"salscope.models.classical.{_module}")
