"""Benchmark: streaming flow inference (batch 1, state carried) and training steps of FlowNetwork on CPU.

Usage::

    .venv/bin/python bench/bench_network.py [--threads 2] [--sizes 240x320 480x640] [--frames 20] [--quick]

Prints one table: frames/s of eager fp32, channels_last, torch.compile, ONNX Runtime (state as explicit
inputs/outputs) and bf16 autocast, each with the max abs difference of the full-resolution flow against eager
fp32 after the same frames; then training samples/s (forward + FlowLoss + backward + Adam) at 240x320, T=4, B=4.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch
from torch import nn

from evflow.core.rnn import ConvGRUCell, ConvLSTMCell
from evflow.flow.flow_network import FlowNetwork
from evflow.flow.losses import FlowLoss

WEIGHTS = {"data": 1, "smoothness": 0.4, "smoothness2": 0.6, "l1": 0.3, "time_consistency": 1, "bw_deblur": 1}


def frames(n: int, h: int, w: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(1, 1, 6, h, w, generator=g) > 0.9).float() * 0.2 for _ in range(n)]


def run_stream(step, inputs: list[torch.Tensor], warmup: int = 3) -> tuple[float, torch.Tensor]:
    """frames/s over ``inputs`` (after ``warmup`` frames) and the last full-resolution flow."""
    with torch.inference_mode():
        for x in inputs[:warmup]:
            step(x)
        t0 = time.perf_counter()
        for x in inputs[warmup:]:
            out = step(x)
        fps = (len(inputs) - warmup) / (time.perf_counter() - t0)
    return fps, out.float()


def fresh_net(h: int, w: int) -> FlowNetwork:
    torch.manual_seed(0)
    return FlowNetwork((1, 6, h, w), WEIGHTS, "eminet", base=16).eval()


def cells(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (ConvLSTMCell, ConvGRUCell))]


class ExplicitState(nn.Module):
    """``(x, h, c) -> (flow, h', c')``: the recurrent state as inputs/outputs (for ONNX export)."""

    def __init__(self, net: FlowNetwork):
        super().__init__()
        self.net = net
        self.cell = cells(net)[0]

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
        self.cell.prev_h, self.cell.prev_c = h, c
        flow = self.net(x)[-1]
        return flow, self.cell.prev_h, self.cell.prev_c


def onnx_stepper(net: FlowNetwork, h: int, w: int, threads: int):
    import onnxruntime as ort

    wrapper = ExplicitState(net)
    x = torch.zeros(1, 1, 6, h, w)
    state = torch.zeros(1, wrapper.cell.hidden_dim, (h + 7) // 8, (w + 7) // 8)
    path = os.path.join(tempfile.mkdtemp(), "eminet.onnx")
    torch.onnx.export(wrapper, (x, state, state), path, input_names=["x", "h", "c"], dynamo=False, opset_version=17)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    hc = [state.numpy(), state.numpy()]

    def step(frame):
        flow, hc[0], hc[1] = sess.run(None, {"x": frame.numpy(), "h": hc[0], "c": hc[1]})
        return torch.from_numpy(flow)

    return step


def inference_rows(h: int, w: int, n: int, threads: int, quick: bool) -> list[tuple]:
    inputs = frames(n, h, w)
    net = fresh_net(h, w)
    fps, ref = run_stream(lambda x: net(x)[-1], inputs)
    rows = [(f"{h}x{w}", "eager fp32", fps, 0.0)]

    def add(name, make_step):
        try:
            fps, out = run_stream(make_step(), inputs)
            rows.append((f"{h}x{w}", name, fps, (out - ref).abs().max().item()))
        except Exception as exc:  # a backend missing on this machine must not hide the other rows
            rows.append((f"{h}x{w}", f"{name} (failed: {type(exc).__name__})", float("nan"), float("nan")))

    def channels_last():
        cl = fresh_net(h, w).to(memory_format=torch.channels_last)
        return lambda x: cl(x)[-1]

    def compiled():
        import torch._inductor.config as cfg

        cfg.freezing = True
        comp = torch.compile(fresh_net(h, w).to(memory_format=torch.channels_last))
        return lambda x: comp(x)[-1]

    def bf16():
        b = fresh_net(h, w)

        def step(x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return b(x)[-1]

        return step

    add("channels_last", channels_last)
    add("onnxruntime", lambda: onnx_stepper(fresh_net(h, w), h, w, threads))
    if not quick:
        add("torch.compile (inductor, frozen)", compiled)
        add("bf16 autocast", bf16)
    return rows


def training_row(h: int, w: int, steps: int) -> tuple:
    torch.manual_seed(0)
    t, b = 4, 4
    net = FlowNetwork((t, 6, h, w), WEIGHTS, "eminet", base=16).train()
    loss_fn = FlowLoss(WEIGHTS, net.get_warping_head())
    opt = torch.optim.Adam(net.parameters(), lr=1e-5)
    x = (torch.rand(t, b, 6, h, w) > 0.9).float() * 0.2

    def step():
        opt.zero_grad()
        flows = [f.flatten(0, 1) for f in net(x)]
        loss = sum(loss_fn(flows, net.interpolate_all_inputs_using_pyramid(x), b).values())
        loss.backward()
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    per_step = (time.perf_counter() - t0) / steps
    return (f"{h}x{w} T={t} B={b}", "train step (fwd+FlowLoss+bwd+Adam)", b / per_step, per_step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sizes", nargs="+", default=["240x320", "480x640"])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--train-steps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip torch.compile and bf16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"eminet base 16, CPU, torch {torch.__version__}, {args.threads} threads, batch 1 streaming (state carried)")
    print(f"{'size':<16} {'path':<38} {'frames/s':>9} {'max|diff|':>10}")
    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        for row in inference_rows(h, w, args.frames, args.threads, args.quick):
            print(f"{row[0]:<16} {row[1]:<38} {row[2]:>9.2f} {row[3]:>10.2e}")
    size, name, sps, per_step = training_row(240, 320, args.train_steps)
    print(f"{size:<16} {name:<38} {sps:>9.2f} samples/s ({per_step:.2f} s/step)")


if __name__ == "__main__":
    main()
