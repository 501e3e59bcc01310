"""Discrete-path vs mixed-op DARTS supernet: forward+backward time and peak memory.

The discrete path (:meth:`DARTSSupernet.forward` with an alpha_d from Algorithm 2)
runs 8 of the 14 x 7 (edge, op) pairs per cell; the mixed-op forward
(:meth:`DARTSSupernet.forward_mixed`, DARTS' continuous relaxation) runs all of
them. Both run on the same supernet and the same input batch, in the same run.

Memory is reported two ways:

* ``saved MB``: bytes of the tensors autograd saves for the backward pass (counted
  with ``torch.autograd.graph.saved_tensors_hooks``, storages counted once): the
  activation memory, identical on every device;
* ``peak MB``: on CUDA, ``torch.cuda.max_memory_allocated`` above the memory held
  before the step; on CPU, the growth of the process' peak resident set size
  (``ru_maxrss``) over the resident size after a batch-of-1 warm-up step, each
  (config, mode) measured in a fresh subprocess so earlier runs do not hide it
  (this includes gradients and allocator slack).

Usage::

    python benchmarks/darts_path_vs_mixed.py                      # small + thesis configs, CPU
    python benchmarks/darts_path_vs_mixed.py --configs small --device cuda

The thesis configuration is C=16, 8 cells, batch 64, 32x32 (Mills 2020, Sec. 4.2.2,
following DARTS' search setting).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CONFIGS: dict[str, dict] = {
    "small": {"C": 8, "num_cells": 5, "batch": 16, "size": 16},
    "thesis": {"C": 16, "num_cells": 8, "batch": 64, "size": 32},
}


def _rss_mb() -> float:
    """Current resident set size (Linux /proc), MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def measure(
    config: str, mode: str, device: str, repeats: int, n_paths: int, pc_k: int | None, seed: int
) -> dict:
    """Time and memory of ``repeats`` forward+backward steps per path (or of the mixed net)."""
    import numpy as np
    import torch

    from nas_gym.spaces import darts as space
    from nas_gym.supernets.darts import DARTSSupernet

    cfg = CONFIGS[config]
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)
    net = DARTSSupernet(C=cfg["C"], num_cells=cfg["num_cells"], pc_k=pc_k).to(dev)
    x = torch.randn(cfg["batch"], 3, cfg["size"], cfg["size"], generator=gen).to(dev)
    y = torch.randint(0, 10, (cfg["batch"],), generator=gen).to(dev)
    rng = np.random.default_rng(seed)
    alphas = (
        [space.discretize(space.sample_uniform(rng)) for _ in range(n_paths)]
        if mode == "path"
        else [None]
    )

    def step(alpha_d) -> None:
        out = net(x, alpha_d) if alpha_d is not None else net.forward_mixed(x)
        torch.nn.functional.cross_entropy(out, y).backward()
        net.zero_grad(set_to_none=True)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    # One batch-of-1 step first, so lazily loaded kernels/libraries are not counted as peak.
    for alpha_d in alphas:
        out = net(x[:1], alpha_d) if alpha_d is not None else net.forward_mixed(x[:1])
        out.sum().backward()
        net.zero_grad(set_to_none=True)
    del out
    base_rss = _rss_mb()
    param_storages = {p.untyped_storage().data_ptr() for p in net.parameters()}

    # saved-for-backward bytes (activations; weights excluded), one forward per architecture
    saved = []
    for alpha_d in alphas:
        seen: dict[int, int] = {}

        def pack(t: torch.Tensor, seen=seen) -> torch.Tensor:
            st = t.untyped_storage()
            if st.data_ptr() in param_storages:
                return t
            seen[st.data_ptr()] = max(seen.get(st.data_ptr(), 0), st.nbytes())
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = net(x, alpha_d) if alpha_d is not None else net.forward_mixed(x)
        del out
        saved.append(sum(seen.values()) / 2**20)

    if dev.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(dev)
        base_cuda = torch.cuda.memory_allocated(dev)
    times = []
    for alpha_d in alphas:
        step(alpha_d)  # warm-up (allocator, kernels)
        sync()
        for _ in range(repeats):
            t0 = time.perf_counter()
            step(alpha_d)
            sync()
            times.append(time.perf_counter() - t0)
    if dev.type == "cuda":
        peak = (torch.cuda.max_memory_allocated(dev) - base_cuda) / 2**20
    else:
        peak = max(0.0, _peak_rss_mb() - base_rss)
    return {
        "config": config,
        "mode": mode,
        "time_s": statistics.mean(times),
        "peak_mb": peak,
        "saved_mb": max(saved),
        "n_archs": len(alphas),
        "repeats": repeats,
    }


def _machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    desc = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device.startswith("cuda"):
        desc += f", GPU {torch.cuda.get_device_name(torch.device(device))}"
    return desc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configs", default="small,thesis", help=f"comma list of {', '.join(CONFIGS)}"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    parser.add_argument("--repeats", type=int, default=3, help="timed steps per architecture")
    parser.add_argument(
        "--paths", type=int, default=3, help="random architectures timed for the path mode"
    )
    parser.add_argument("--pc-k", type=int, default=None, help="PC-DARTS K (default: off)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the rows to this JSON file")
    parser.add_argument("--_worker", nargs=2, metavar=("CONFIG", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args._worker:
        row = measure(*args._worker, args.device, args.repeats, args.paths, args.pc_k, args.seed)
        print(json.dumps(row))
        return 0

    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        parser.error(f"unknown config(s) {unknown}; allowed: {', '.join(CONFIGS)}")
    print(
        f"machine: {_machine(args.device)}; device: {args.device}; PC-DARTS K: {args.pc_k or 'off'}"
    )
    rows = []
    for config in configs:
        for mode in ("path", "mixed"):
            if args.device == "cpu":  # fresh process: ru_maxrss is a per-process high-water mark
                cmd = [sys.executable, __file__, "--_worker", config, mode, "--device", "cpu"]
                cmd += [
                    "--repeats",
                    str(args.repeats),
                    "--paths",
                    str(args.paths),
                    "--seed",
                    str(args.seed),
                ]
                cmd += ["--pc-k", str(args.pc_k)] if args.pc_k else []
                cmd += ["--threads", str(args.threads)] if args.threads else []
                res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if res.returncode:
                    print(res.stderr, file=sys.stderr)
                    return res.returncode
                rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            else:
                rows.append(
                    measure(
                        config, mode, args.device, args.repeats, args.paths, args.pc_k, args.seed
                    )
                )
            print(f"  measured {config}/{mode}", file=sys.stderr, flush=True)

    print()
    print(
        "| config | C | cells | batch | input | path s/step | mixed s/step | time ratio | path peak MB | mixed peak MB | peak ratio | path saved MB | mixed saved MB | saved ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for config in configs:
        cfg = CONFIGS[config]
        p = next(r for r in rows if r["config"] == config and r["mode"] == "path")
        m = next(r for r in rows if r["config"] == config and r["mode"] == "mixed")
        print(
            f"| {config} | {cfg['C']} | {cfg['num_cells']} | {cfg['batch']} | {cfg['size']}x{cfg['size']} "
            f"| {p['time_s']:.3f} | {m['time_s']:.3f} | {p['time_s'] / m['time_s']:.3f} "
            f"| {p['peak_mb']:.0f} | {m['peak_mb']:.0f} | {p['peak_mb'] / max(m['peak_mb'], 1e-9):.3f} "
            f"| {p['saved_mb']:.0f} | {m['saved_mb']:.0f} | {p['saved_mb'] / m['saved_mb']:.3f} |"
        )
    print(
        f"\npath: mean over {rows[0]['n_archs']} random architectures x {args.repeats} steps; "
        "peak/saved for the path: the largest of them. Target: path memory <= 1/5 of mixed."
    )
    if args.json:
        from nas_gym.data import atomic_write_text

        atomic_write_text(args.json, json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
