"""The pretrained model shipped inside the package, and resolution of the ``CHECKPOINT`` argument of the CLI.

``evflow infer default ...`` / ``evflow export default ...`` use ``evflow/assets/flow_model_default.ckpt``.
"""

from __future__ import annotations

import os
from pathlib import Path

from evflow.errors import ConfigError

DEFAULT_NAME = "default"
DEFAULT_FILE = "flow_model_default.ckpt"


def default_checkpoint_path() -> Path:
    """Where the bundled checkpoint lives (whether or not it is shipped in this build)."""
    return Path(__file__).resolve().parent.parent / "assets" / DEFAULT_FILE


def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """Turn ``"default"`` or a path into an existing checkpoint file.

    Args:
        name_or_path: ``"default"`` (the bundled model) or a ``.ckpt`` path.

    Returns:
        Path of an existing file.

    Raises:
        ConfigError: the bundled model is not shipped in this build, or the file does not exist.
    """
    if str(name_or_path) == DEFAULT_NAME:
        path = default_checkpoint_path()
        if not path.is_file():
            raise ConfigError(
                f"the bundled flow model is not shipped in this build (expected {path}); "
                "pass the path of a checkpoint written by `evflow train` instead of 'default'"
            )
        return path
    path = Path(name_or_path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    return path
