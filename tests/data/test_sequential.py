"""Sequential loader: time order per row (0 and 2 workers), memory masks, DDP shards, rescheduling, augmentation."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
import torch

from evflow.data.augment import AugmentConfig
from evflow.data.scheduler import make_plan
from evflow.data.sequential import SequentialDataLoader

DT = 10_000
T = 2


def write_tagged(path, rec_id: int, num_rows: int, height=8, width=12):
    """Tensor file whose row n holds rec_id in channel 0 and n in channel 1 (everywhere)."""
    data = np.zeros((num_rows, 2, height, width), np.float32)
    data[:, 0] = rec_id
    data[:, 1] = np.arange(num_rows)[:, None, None]
    with h5py.File(path, "w") as f:
        d = f.create_dataset("data", data=data)
        d.attrs["delta_t"] = DT
        d.attrs["events_to_tensor"] = np.bytes_("histo")
    return path


@pytest.fixture
def recordings(tmp_path):
    lengths = [12, 8, 6, 10, 4]  # rows of delta_t; chunks of T rows: 6, 4, 3, 5, 2
    return [str(write_tagged(tmp_path / f"rec{i}.h5", i, n)) for i, n in enumerate(lengths)], lengths


def loader(files, **kw):
    kw.setdefault("batch_size", 2)
    kw.setdefault("num_workers", 0)
    return SequentialDataLoader(files, DT, "histo", (T, 2, 8, 12), **kw)


def rows_trace(dl):
    """[(rec, first row index, keep_memory)] per row and step."""
    trace = []
    for batch in dl:
        x = batch["inputs"]
        assert x.shape[0] == T and x.shape[2:] == (2, 8, 12)
        step = []
        for b in range(x.shape[1]):
            rec, row = int(x[0, b, 0, 0, 0]), int(x[0, b, 1, 0, 0])
            assert torch.all(x[:, b, 1, 0, 0] == torch.arange(row, row + T, dtype=torch.float32))
            step.append((rec, row, float(batch["mask_keep_memory"][b, 0, 0, 0])))
        trace.append(step)
    return trace


def check_time_order(trace):
    for b in range(len(trace[0])):
        prev = None
        for step in trace:
            rec, row, keep = step[b]
            if keep == 1.0:
                assert prev is not None and prev == (rec, row - T), f"row {b} broke time order at {step[b]}"
            prev = (rec, row)


@pytest.mark.parametrize("workers", [0, 2])
def test_time_order_and_masks(recordings, workers):
    files, _ = recordings
    dl = loader(files, num_workers=workers)
    trace = rows_trace(dl)
    assert len(trace) == len(dl) == (6 + 4 + 3 + 5 + 2) // 2
    check_time_order(trace)
    # each row starts a recording at its first chunk with a memory reset, and every reset is at a chunk 0
    for b in range(2):
        assert trace[0][b][1] == 0 and trace[0][b][2] == 0.0
        for _rec, row, keep in (s[b] for s in trace):
            assert (keep == 0.0) == (row == 0)


def test_workers_give_same_batches(recordings):
    files, _ = recordings
    a = list(loader(files, num_workers=0, batch_size=3))
    b = list(loader(files, num_workers=2, batch_size=3))
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert torch.equal(x["inputs"], y["inputs"])
        assert torch.equal(x["mask_keep_memory"], y["mask_keep_memory"])
        assert [v[1] for v in x["video_infos"]] == [v[1] for v in y["video_infos"]]


def test_reschedule_cuts_segments(recordings):
    files, _ = recordings
    dl = loader(files, num_workers=2)
    n = len(dl)
    dl.reschedule(max_consecutive_batch=2, shuffle=True, seed=3)
    assert len(dl) == n  # epoch length does not depend on the cut
    trace = rows_trace(dl)
    check_time_order(trace)
    for b in range(2):
        run = 0
        for _rec, row, keep in (s[b] for s in trace):
            run = run + 1 if keep else 1
            assert run <= 2 and (keep == 0.0) == ((row // T) % 2 == 0)


def test_ddp_shards_disjoint_and_covering():
    chunks = [6, 4, 3, 5, 2, 7, 1]
    plans = [make_plan(chunks, batch_size=2, rank=r, world_size=2, shuffle=True, seed=5) for r in range(2)]
    assert len(plans[0][0]) == len(plans[1][0])  # same number of steps on every rank
    seen = [{(s.recording, s.chunk) for row in plan for s in row if not s.is_padding} for plan in plans]
    assert not seen[0] & seen[1]
    recs = [{rec for rec, _ in s} for s in seen]
    assert not recs[0] & recs[1] and recs[0] | recs[1] == set(range(len(chunks)))


def test_ddp_loader_ranks(recordings):
    files, _ = recordings
    recs = []
    for rank in range(2):
        dl = loader(files, batch_size=2, rank=rank, world_size=2)
        recs.append({info[0].path for batch in dl for info in batch["video_infos"]})
    assert not recs[0] & recs[1]


def test_fewer_recordings_than_rows(recordings):
    files, _ = recordings
    dl = loader(files[:1], batch_size=4)
    assert dl.batch_size == 1 and len(dl) == 6


def test_augmentation_same_for_all_bins_and_steps(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.random((1, 2, 8, 12)).astype(np.float32)
    data = np.repeat(base, 8, axis=0)  # every bin identical
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("data", data=data).attrs["delta_t"] = DT
    aug = AugmentConfig(max_angle=90, p_rotate=1.0, p_hflip=0.5)
    batches = list(
        SequentialDataLoader(
            [str(tmp_path / "a.h5")], DT, "histo", (T, 2, 8, 12), batch_size=1, num_workers=0, augment=aug
        )
    )
    x = torch.cat([b["inputs"] for b in batches])
    assert not torch.allclose(x[0], torch.from_numpy(base))  # it did transform
    assert torch.allclose(x, x[:1].expand_as(x))  # ... identically for every bin and step of the segment
