"""A released (slim) checkpoint loads to the same network as the training checkpoint."""

import pytest
import torch

from evflow.errors import ConfigError
from evflow.flow.model_io import load_flow_model, release_checkpoint
from infer_helpers import make_checkpoint


def test_release_keeps_weights_and_metadata(tmp_path):
    src = make_checkpoint(tmp_path / "full.ckpt", 16, 24)
    full = torch.load(src, weights_only=False)
    full["optimizer_states"] = [{"state": {0: torch.zeros(1000)}}]
    torch.save(full, src)
    meta = release_checkpoint(src, tmp_path / "slim.ckpt", command="evflow train ...", val_aee=1.0)
    assert meta["provenance"] == {"command": "evflow train ...", "val_aee": 1.0}
    slim = torch.load(tmp_path / "slim.ckpt", weights_only=False)
    assert "optimizer_states" not in slim
    assert slim["evflow"]["architecture"] == "eminet"
    a, b = load_flow_model(src).network.eval(), load_flow_model(tmp_path / "slim.ckpt").network.eval()
    x = torch.rand(2, 1, 6, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(a(x)[-1], b(x)[-1], rtol=0, atol=0)


def test_release_rejects_foreign_file(tmp_path):
    torch.save({"weights": 1}, tmp_path / "x.ckpt")
    with pytest.raises(ConfigError, match="not a checkpoint"):
        release_checkpoint(tmp_path / "x.ckpt", tmp_path / "y.ckpt")
    assert not (tmp_path / "y.ckpt").exists()
