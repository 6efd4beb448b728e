"""Benchmark: streaming flow inference (batch 1, state carried) and training steps of FlowNetwork on CPU.

Usage::

    .venv/bin/python bench/bench_network.py [--threads 2] [--sizes 240x320 480x640] [--frames 20] [--quick] [--bf16]

Prints one table: frames/s (from the median per-frame time; "best" from the fastest frame, closer to
what an idle machine gives; "f/cpu-s": frames per CPU-second of all threads, which contention
inflates less) of eager fp32, channels_last, torch.compile and ONNX Runtime (both with the
recurrent state as explicit inputs/outputs) and bf16 autocast, each with the max abs difference of the
full-resolution flow against eager fp32 after the same frames; then training samples/s (forward + FlowLoss
+ backward + Adam) at 240x320, T=4, B=4.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import torch

from evflow.core.explicit_state import ExplicitState
from evflow.core.fused_step import FusedStep
from evflow.core.malloc import retain_freed_memory
from evflow.flow.flow_network import FlowNetwork
from evflow.flow.losses import FlowLoss

WEIGHTS = {"data": 1, "smoothness": 0.4, "smoothness2": 0.6, "l1": 0.3, "time_consistency": 1, "bw_deblur": 1}


def frames(n: int, h: int, w: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(1, 1, 6, h, w, generator=g) > 0.9).float() * 0.2 for _ in range(n)]


def run_stream(step, inputs: list[torch.Tensor], warmup: int = 3) -> tuple[float, float, float, torch.Tensor]:
    """Median and best per-frame frames/s, frames per CPU-second (all threads) and the last flow."""
    times = []
    with torch.inference_mode():
        for x in inputs[:warmup]:
            step(x)
        cpu0 = time.process_time()
        for x in inputs[warmup:]:
            t0 = time.perf_counter()
            out = step(x)
            times.append(time.perf_counter() - t0)
        cpu = time.process_time() - cpu0
    return 1.0 / statistics.median(times), 1.0 / min(times), len(times) / cpu, out.float()


def fresh_net(h: int, w: int) -> FlowNetwork:
    torch.manual_seed(0)
    return FlowNetwork((1, 6, h, w), WEIGHTS, "eminet", base=16).eval()


def onnx_stepper(net: FlowNetwork, h: int, w: int, threads: int):
    import onnxruntime as ort

    wrapper = ExplicitState(net)
    x = torch.zeros(1, 1, 6, h, w)
    states = wrapper.initial_states(x)
    path = os.path.join(tempfile.mkdtemp(), "eminet.onnx")
    torch.onnx.export(wrapper, (x, *states), path, dynamo=False, opset_version=17)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    hc = [s.numpy() for s in states]

    def step(frame):
        outs = sess.run(None, dict(zip(names, [frame.numpy(), *hc])))
        hc[:] = outs[3:]
        return torch.from_numpy(outs[2])

    return step


def inference_rows(h: int, w: int, n: int, threads: int, quick: bool, with_bf16: bool) -> list[tuple]:
    inputs = frames(n, h, w)
    net = fresh_net(h, w)
    fps, best, per_cpu, ref = run_stream(lambda x: net(x)[-1], inputs)
    rows = [(f"{h}x{w}", "eager fp32", fps, best, per_cpu, 0.0)]

    def add(name, make_step):
        try:
            fps, best, per_cpu, out = run_stream(make_step(), inputs)
            rows.append((f"{h}x{w}", name, fps, best, per_cpu, (out - ref).abs().max().item()))
        except Exception as exc:  # a backend missing on this machine must not hide the other rows
            rows.append((f"{h}x{w}", f"{name} (failed: {type(exc).__name__})", *[float("nan")] * 4))

    def channels_last():
        cl = fresh_net(h, w).to(memory_format=torch.channels_last)
        return lambda x: cl(x)[-1]

    def compiled():
        # the recurrent state passed explicitly: buffers re-assigned every step would make dynamo recompile
        wrapper = ExplicitState(fresh_net(h, w).to(memory_format=torch.channels_last))
        comp = torch.compile(wrapper)
        hc = wrapper.initial_states(inputs[0])

        def step(x):
            outs = comp(x, *hc)
            hc[:] = outs[3:]
            return outs[2]

        return step

    def bf16():
        b = fresh_net(h, w)

        def step(x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return b(x)[-1]

        return step

    def fused(dtype=torch.float32, compile_it=False):
        def make():
            step_fn = FusedStep(fresh_net(h, w).feature_extractor).to(dtype)
            run = torch.compile(step_fn) if compile_it else step_fn
            states = step_fn.initial_states(inputs[0][0].to(dtype))

            def step(x):
                flow, *states[:] = run(x[0].to(dtype), *states)
                return flow[None]

            return step

        return make

    add("channels_last", channels_last)
    add("fused 4-D channels_last (evflow infer default)", fused())
    add("fused, bf16 weights and activations", fused(torch.bfloat16))
    if not quick:
        add("fused + torch.compile", fused(compile_it=True))
    add("onnxruntime", lambda: onnx_stepper(fresh_net(h, w), h, w, threads))
    if not quick:
        add("torch.compile (explicit state)", compiled)
    if with_bf16:  # no native bf16 on AVX2 CPUs: very slow there
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
    parser.add_argument("--quick", action="store_true", help="skip torch.compile")
    parser.add_argument("--bf16", action="store_true", help="also time bf16 autocast (slow without AVX512-BF16/AMX)")
    parser.add_argument(
        "--default-malloc",
        action="store_true",
        help="leave glibc's malloc alone (default: every path runs after retain_freed_memory())",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tuned = False if args.default_malloc else retain_freed_memory()
    print(f"glibc malloc keeps freed memory (evflow.core.fused_step.retain_freed_memory): {tuned}")
    print(f"eminet base 16, CPU, torch {torch.__version__}, {args.threads} threads, batch 1 streaming (state carried)")
    print(f"{'size':<16} {'path':<48} {'frames/s':>9} {'best':>9} {'f/cpu-s':>8} {'max|diff|':>10}", flush=True)
    for size in args.sizes:
        h, w = (int(v) for v in size.split("x"))
        for row in inference_rows(h, w, args.frames, args.threads, args.quick, args.bf16):
            print(f"{row[0]:<16} {row[1]:<48} {row[2]:>9.2f} {row[3]:>9.2f} {row[4]:>8.2f} {row[5]:>10.2e}", flush=True)
    size, name, sps, per_step = training_row(240, 320, args.train_steps)
    print(f"{size:<16} {name:<48} {sps:>9.2f} samples/s ({per_step:.2f} s/step)")


if __name__ == "__main__":
    main()
