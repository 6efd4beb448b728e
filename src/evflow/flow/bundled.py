"""The pretrained models shipped inside the package, and resolution of the ``CHECKPOINT`` argument of the CLI.

``evflow infer default ...`` / ``evflow export default ...`` use ``evflow/assets/flow_model_default.ckpt``
(self-supervised); ``supervised`` names ``evflow/assets/flow_model_supervised.ckpt`` (trained on the ground truth
of synthetic recordings, a reference for what the architecture can learn).
"""

from __future__ import annotations

import os
from pathlib import Path

from evflow.errors import ConfigError

DEFAULT_NAME = "default"
DEFAULT_FILE = "flow_model_default.ckpt"
BUNDLED = {DEFAULT_NAME: DEFAULT_FILE, "supervised": "flow_model_supervised.ckpt"}


def default_checkpoint_path() -> Path:
    """Where the bundled default checkpoint lives (whether or not it is shipped in this build)."""
    return Path(__file__).resolve().parent.parent / "assets" / DEFAULT_FILE


def bundled_checkpoint_path(name: str) -> Path:
    """Where the bundled checkpoint ``name`` (a key of :data:`BUNDLED`) lives."""
    if name == DEFAULT_NAME:
        return default_checkpoint_path()
    return default_checkpoint_path().parent / BUNDLED[name]


def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """Turn a bundled model name (``"default"``, ``"supervised"``) or a path into an existing checkpoint file.

    Args:
        name_or_path: a key of :data:`BUNDLED` or a ``.ckpt`` path.

    Returns:
        Path of an existing file.

    Raises:
        ConfigError: the bundled model is not shipped in this build, or the file does not exist.
    """
    if str(name_or_path) in BUNDLED:
        path = bundled_checkpoint_path(str(name_or_path))
        if not path.is_file():
            raise ConfigError(
                f"the bundled flow model is not shipped in this build (expected {path}); "
                f"pass the path of a checkpoint written by `evflow train` instead of {str(name_or_path)!r}"
            )
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    return path
