"""Flow networks, losses, Lightning model and visualisation (``metavision_ml.flow`` API).

Exports are lazy so that importing a light submodule (``evflow.flow.viz``) does not import Lightning:
``from evflow.flow import FlowModel`` loads :mod:`evflow.flow.lightning_model` only when asked.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "FlowModel": "lightning_model",
    "FlowNetwork": "flow_network",
    "FlowLoss": "losses",
    "LOSS_NAMES": "losses",
    "list_architectures": "feature_extractor",
    "build_feature_extractor": "feature_extractor",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
