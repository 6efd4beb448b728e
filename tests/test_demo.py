"""``make demo`` logic on a tiny recording with a tiny untrained checkpoint (the real FlowModel)."""

from __future__ import annotations

import json

from evflow import demo
from evflow.data.flow_file import read_flow_file
from evflow.flow import bundled
from infer_helpers import make_checkpoint


def test_demo_runs_end_to_end(tmp_path, monkeypatch, capsys):
    ckpt = make_checkpoint(tmp_path / "tiny.ckpt", 32, 40, delta_t=20000)
    monkeypatch.setenv("EVFLOW_DEMO_CKPT", str(ckpt))
    assert demo.main(["--output-dir", str(tmp_path / "out"), "--duration-s", "0.2"]) == 0
    text = capsys.readouterr().out
    for row in ("model", "zero", "dis", "cmax"):
        assert f"\n{row} " in text
    assert "estimate.mp4" in text and "metrics.json" in text
    est = read_flow_file(tmp_path / "out" / "estimate_flow.h5")
    gt = read_flow_file(tmp_path / "out" / "data" / "val" / "synth_0000_flow.h5")
    assert est.flow.shape[1:] == gt.flow.shape[1:] == (2, 32, 40) and est.delta_t == gt.delta_t == 20000
    assert est.start_ts[0] == gt.start_ts[0] == 0
    overall = json.loads((tmp_path / "out" / "eval" / "metrics.json").read_text())["overall"]
    assert {"zero", "dis", "cmax"} <= set(overall) and (tmp_path / "out" / "estimate.mp4").stat().st_size > 0


def test_demo_without_a_model_says_so(tmp_path, monkeypatch, capsys):
    """A build without the bundled model (or a deleted one) stops with a clear message."""
    monkeypatch.delenv("EVFLOW_DEMO_CKPT", raising=False)
    monkeypatch.setattr(bundled, "default_checkpoint_path", lambda: tmp_path / "absent.ckpt")
    assert demo.main(["--output-dir", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "not shipped" in err and "EVFLOW_DEMO_CKPT" in err
    assert not (tmp_path / "out").exists()
