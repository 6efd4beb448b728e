"""DDP: 2 CPU processes (gloo) train a few steps through `evflow train`'s runner; parameters end identical."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import argparse, sys
    import lightning.pytorch as pl
    import torch
    from evflow.cli import train as train_cli
    from evflow.cli.train_runner import run_training

    class Dump(pl.Callback):
        def on_train_end(self, trainer, pl_module):
            vec = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
            assert trainer.strategy.model.parameters_to_ignore, "recurrent state would be broadcast"
            paths = [(i[0].path, i[1]) for b in trainer.train_dataloader for i in b["video_infos"]]
            torch.save({"params": vec, "steps": trainer.global_step, "paths": paths},
                       f"{sys.argv[1]}/rank{trainer.global_rank}.pt")

    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(sys.argv[2:])
    run_training(args, train_cli.build_config(args), [Dump()])
    """
)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ddp_two_cpu_processes(tiny_dataset, tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    argv = [str(tmp_path / "run"), str(tiny_dataset), "--cpu", "--devices", "2", "--strategy", "ddp",
            "--num-tbins", "2", "--batch-size", "1", "--num-workers", "0", "--feature-base", "8",
            "--accumulate-grad-batches", "1", "--demo-every", "0", "--max-epochs", "1", "--limit-train-batches", "3",
            "--limit-val-batches", "1", "--lr", "1e-2"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([sys.executable, str(script), str(tmp_path), *argv], env=env, capture_output=True,
                          text=True, timeout=220)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    import torch

    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["steps"] == ranks[1]["steps"] == 3
    np.testing.assert_array_equal(ranks[0]["params"].numpy(), ranks[1]["params"].numpy())
    # each rank reads its own segments (the curriculum cut recordings into 1-step segments at epoch 0)
    assert len(ranks[0]["paths"]) == 9 and not set(ranks[0]["paths"]) & set(ranks[1]["paths"])
    first = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert first["evflow"]["architecture"] == "eminet"
