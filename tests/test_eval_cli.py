"""`evflow eval`: metrics.json + PNG on synthetic recordings, GT-vs-GT, zero flow, interval rescaling, bad input."""

import json
import math

import cv2
import h5py
import numpy as np
import pytest

from evflow.cli.main import main
from evflow.data.flow_file import write_flow_file
from evflow.io import make_events, write_events

H, W, DT, N = 40, 56, 50_000, 4
FLOW = (6.0, -3.0)  # px per DT


def translating_events(n_points=300, per_point=80, seed=0):
    rng = np.random.default_rng(seed)
    x0, y0 = rng.uniform(0, W, n_points), rng.uniform(0, H, n_points)
    t = np.sort(rng.integers(0, N * DT, (n_points, per_point)), axis=1)
    x = np.rint(x0[:, None] + FLOW[0] * t / DT).ravel()
    y = np.rint(y0[:, None] + FLOW[1] * t / DT).ravel()
    p = np.repeat(rng.integers(0, 2, n_points), per_point)
    keep = (x >= 0) & (x < W) & (y >= 0) & (y < H)
    order = np.argsort(t.ravel()[keep], kind="stable")
    return make_events(x[keep][order], y[keep][order], p[keep][order], t.ravel()[keep][order])


def gt_flow(n=N, dt=DT, scale=1.0):
    flow = np.empty((n, 2, H, W), np.float32)
    flow[:, 0], flow[:, 1] = FLOW[0] * scale, FLOW[1] * scale
    return flow, np.arange(n) * dt, np.arange(1, n + 1) * dt


@pytest.fixture
def recording(tmp_path):
    flow, start, end = gt_flow()
    flow_gt = flow.copy()
    flow_gt[:, :, -3:] = np.inf  # invalid GT rows
    gt = write_flow_file(tmp_path / "rec_flow.h5", flow_gt, start, end)
    events = tmp_path / "rec_td.dat"
    write_events(events, translating_events(), height=H, width=W)
    est_dir = tmp_path / "est"
    est_dir.mkdir()
    est = write_flow_file(est_dir / "rec_flow.h5", flow, start, end)
    return tmp_path, est, gt, events


def run_eval(est, gt, events, out, baselines="zero"):
    args = ["eval", str(est), "--gt", str(gt), "--output-dir", str(out), "--baselines", baselines]
    return main(args + (["--events", str(events)] if events else []))


def test_gt_vs_gt_and_zero_flow(recording, capsys):
    tmp, est, gt, events = recording
    assert run_eval(est, gt, events, tmp / "out", "zero,dis,cmax") == 0
    report = json.loads((tmp / "out" / "metrics.json").read_text())
    overall = report["overall"]
    assert overall["estimate"]["aee"] == pytest.approx(0.0, abs=1e-6)
    assert overall["estimate"]["outliers_pct"] == 0.0 and overall["estimate"]["aae_deg"] == pytest.approx(0, abs=1e-3)
    assert overall["zero"]["aee"] == pytest.approx(math.hypot(*FLOW), rel=1e-6)  # mean |gt|
    assert overall["zero"]["aee_rel"] == pytest.approx(1.0) and overall["zero"]["aae_deg"] is None
    assert overall["zero"]["fwl"] == pytest.approx(1.0) and overall["estimate"]["fwl"] > 1.2
    assert overall["estimate"]["rsat"] < 1.0 and overall["gt"]["fwl"] > 1.2  # GT inf rows count as zero flow
    assert overall["cmax"]["aee"] < 1.0 and overall["dis"]["aee"] < overall["zero"]["aee"]
    rec = report["recordings"][0]
    assert rec["name"] == "rec" and len(rec["intervals"]) == N
    assert rec["intervals"][1]["start_ts"] == DT and rec["intervals"][1]["n_events"] > 0
    assert overall["estimate"]["n_valid"] < N * H * W  # masked: inf rows and pixels without events
    png = cv2.imread(str(tmp / "out" / "aee.png"))
    assert png is not None and png.shape[1] == 720 and (png < 250).any()
    assert "estimate" in capsys.readouterr().out


def test_estimate_on_longer_intervals_uses_propagated_gt(recording):
    tmp, _, gt, events = recording
    flow, start, end = gt_flow(n=N // 2, dt=2 * DT, scale=2.0)
    est = write_flow_file(tmp / "long_flow.h5", flow, start, end)
    assert run_eval(est, gt, events, tmp / "out2") == 0
    overall = json.loads((tmp / "out2" / "metrics.json").read_text())["overall"]
    assert overall["estimate"]["aee"] == pytest.approx(0.0, abs=1e-5)
    assert overall["zero"]["aee"] == pytest.approx(2 * math.hypot(*FLOW), rel=1e-5)


def test_directory_mode(recording):
    tmp, est, _, _ = recording
    assert run_eval(est.parent, tmp, None, tmp / "out3") == 0
    report = json.loads((tmp / "out3" / "metrics.json").read_text())
    assert [r["name"] for r in report["recordings"]] == ["rec"]


def test_bad_inputs_give_clean_errors(recording, capsys):
    tmp, est, gt, events = recording
    small = write_flow_file(tmp / "small_flow.h5", np.zeros((N, 2, H, W - 1)), *gt_flow()[1:])
    assert run_eval(small, gt, events, tmp / "o") == 1
    assert "resolution mismatch" in capsys.readouterr().err
    assert run_eval(est, tmp / "missing_flow.h5", events, tmp / "o") == 1
    assert "missing_flow.h5: flow file not found" in capsys.readouterr().err
    assert run_eval(est, gt, tmp / "nope_td.dat", tmp / "o") == 1
    assert "events file not found" in capsys.readouterr().err
    nan_path = tmp / "nan_flow.h5"
    with h5py.File(nan_path, "w") as f:
        f["flow"] = np.full((N, 2, H, W), np.nan, np.float32)
        f["flow_start_ts"], f["flow_end_ts"] = gt_flow()[1:]
    assert run_eval(nan_path, gt, events, tmp / "o") == 1
    assert "NaN" in capsys.readouterr().err
    outside = tmp / "out_td.npy"
    np.save(outside, make_events([W + 5], [0], [1], [10]))
    assert run_eval(est, gt, outside, tmp / "o") == 1
    assert "outside the sensor" in capsys.readouterr().err
    wide = tmp / "wide_td.dat"
    write_events(wide, make_events([1], [1], [1], [10]), height=H, width=W + 8)
    assert run_eval(est, gt, wide, tmp / "o") == 1
    assert f"wide_td.dat is {H}x{W + 8}, the flow is {H}x{W}" in capsys.readouterr().err
    assert main(["eval", str(est), "--gt", str(gt)]) == 1
    assert "--events is required" in capsys.readouterr().err
    assert not (tmp / "o").exists()


def test_event_window_streams_like_slicing_the_whole_array():
    from evflow.cli.eval import EventWindow
    from evflow.errors import EventValueError

    events = translating_events(n_points=50, per_point=20)
    window = EventWindow(np.array_split(events, 17), H, W, "test")
    t = events["t"]
    for start, end in [(-10, 30_000), (20_000, 20_000), (25_000, 120_000), (100_000, 400_000), (500_000, 600_000)]:
        expected = events[np.searchsorted(t, start) : np.searchsorted(t, end)]
        np.testing.assert_array_equal(window.get(start, end), expected)
    backwards = [events[10:20], events[:10]]
    with pytest.raises(EventValueError, match="backwards after event 10"):
        EventWindow(backwards, H, W, "test").get(0, 10**9)


def test_small_chunks_give_the_same_metrics(recording):
    from evflow.baselines import get_baseline
    from evflow.cli.eval import evaluate_recording, open_recording_events
    from evflow.data.flow_file import read_flow_file

    _, est_path, gt_path, events = recording
    est, gt = read_flow_file(est_path), read_flow_file(gt_path)
    base = {"dis": get_baseline("dis")}
    small = evaluate_recording(est, gt, open_recording_events(events, H, W, chunk_events=97), base)
    whole = evaluate_recording(est, gt, open_recording_events(events, H, W), base)
    assert small == whole


def test_intervals_outside_the_gt_are_reported_but_not_scored(recording):
    tmp, _, gt, events = recording
    flow, start, end = gt_flow(n=N + 1)
    est = write_flow_file(tmp / "more_flow.h5", flow, start, end)
    assert run_eval(est, gt, events, tmp / "out4") == 0
    report = json.loads((tmp / "out4" / "metrics.json").read_text())
    last = report["recordings"][0]["intervals"][-1]
    assert last["gt_covered"] is False and "aee" not in last["estimate"] and "fwl" in last["estimate"]
    assert report["overall"]["estimate"]["n_intervals"] == N
