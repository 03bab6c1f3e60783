"""PyTorch reference for bench/throughput.ts: the same small CNN trained on the same CPU.

Issue #3 asks for training throughput of cnn-small of at least 1x PyTorch on the
same CPU. This script trains the model of bench/cnn-small-bench.ts (conv3x3x32 -
maxpool2 - conv3x3x64 - maxpool2 - flatten - dense128 - dense10, relu, 28x28x1
inputs, NCHW as torch keeps it) on one fixed random batch with softmax
cross-entropy, then times forward passes under inference_mode, and prints
training and inference images/s, median ms/step, process CPU ms/step, the torch
version, its threading and the load average, as a text line and a JSON line.
Run it interleaved with `node dist/bench/throughput.js --backends=tfjs-node`
(A B A B ...) and compare per pair: this machine's speed drifts between runs.

Set-up (outside the repo; PyPI's torch 1.13.1 wheel pulls ~2.5 GB of CUDA
libraries that it needs to import, though only the CPU is used):

    python3 -m venv ~/.cache/winnow/pytorch-venv
    ~/.cache/winnow/pytorch-venv/bin/pip install torch==1.13.1 'numpy<2'

Run:

    ~/.cache/winnow/pytorch-venv/bin/python bench/pytorch-reference.py \
        [--padding=same|valid] [--optimizer=momentum|adam] [--seconds=8] [--threads=2] [--batch=128]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable, Literal

import torch
from torch import nn

Padding = Literal["same", "valid"]
OptimizerKind = Literal["momentum", "adam"]


@dataclass
class Phase:
    images_per_second: float
    steps: int
    median_step_ms: float
    # Process CPU time (all threads) per step: less sensitive than wall time to other load.
    cpu_ms_per_step: float
    loadavg: list[float]


def build_model(padding: Padding) -> nn.Sequential:
    pad = 1 if padding == "same" else 0
    side = 7 if padding == "same" else 5  # 28 -> 14 -> 7, or 28 -> 26 -> 13 -> 11 -> 5
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=pad),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=pad),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * side * side, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


def build_optimizer(kind: OptimizerKind, model: nn.Module) -> torch.optim.Optimizer:
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=1e-3)
    return torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


def time_steps(step: Callable[[], None], seconds: float, batch: int) -> Phase:
    times: list[float] = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    while not times or time.perf_counter() - start < seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    cpu = time.process_time() - cpu0
    return Phase(
        images_per_second=len(times) * batch / sum(times),
        steps=len(times),
        median_step_ms=statistics.median(times) * 1000,
        cpu_ms_per_step=cpu * 1000 / len(times),
        loadavg=[round(x, 2) for x in os.getloadavg()],
    )


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def fmt(n: float) -> str:
    return str(round(n)) if n >= 100 else f"{n:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--padding", choices=["same", "valid"], default="same")
    parser.add_argument("--optimizer", choices=["momentum", "adam"], default="momentum")
    parser.add_argument("--seconds", type=float, default=8.0, help="time spent on timed steps per phase")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = build_model(args.padding)
    optimizer = build_optimizer(args.optimizer, model)
    x = torch.rand(args.batch, 1, 28, 28)
    y = torch.randint(0, 10, (args.batch,))
    losses: list[float] = []

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())

    def infer_step() -> None:
        with torch.inference_mode():
            model(x)

    model.train()
    for _ in range(3):  # warm-up: allocator, mkldnn primitives, optimizer state
        train_step()
    train = time_steps(train_step, args.seconds, args.batch)
    model.eval()
    for _ in range(3):
        infer_step()
    infer = time_steps(infer_step, args.seconds, args.batch)

    threads = f"threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()})"
    detail = f"torch {torch.__version__}, {threads}, mkldnn {torch.backends.mkldnn.is_available()}, batch {args.batch}"
    optimizer_name = "adam(1e-3)" if args.optimizer == "adam" else "sgd momentum(0.01, 0.9)"
    print(f"machine: {cpu_model()} x {os.cpu_count()}, Python {platform.python_version()}, "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"model: conv3x3x32-maxpool-conv3x3x64-maxpool-dense128-dense10 relu, padding {args.padding}, "
          f"batch {args.batch}, 1x28x28, optimizer {optimizer_name}")

    def la(p: Phase) -> str:
        return " ".join(f"{v:.2f}" for v in p.loadavg)

    print(f"pytorch ({detail}): train {fmt(train.images_per_second)} images/s ({train.steps} steps, "
          f"median {fmt(train.median_step_ms)} ms/step, cpu {fmt(train.cpu_ms_per_step)} ms/step, loadavg {la(train)}; "
          f"loss {losses[0]:.3f} -> {losses[-1]:.3f}), inference {fmt(infer.images_per_second)} images/s "
          f"({infer.steps} steps, median {fmt(infer.median_step_ms)} ms/step, cpu {fmt(infer.cpu_ms_per_step)} ms/step, "
          f"loadavg {la(infer)})")
    print(json.dumps({
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
        "torch": {"version": torch.__version__, "threads": torch.get_num_threads(),
                  "interopThreads": torch.get_num_interop_threads(), "mkldnn": torch.backends.mkldnn.is_available()},
        "options": vars(args),
        "results": [{"backend": "pytorch", "train": asdict(train), "infer": asdict(infer),
                     "lossFirst": losses[0], "lossLast": losses[-1]}],
    }))


if __name__ == "__main__":
    main()
