"""Time of one DARTS search step, first vs second order, against the weight step alone.

A DARTS step (:meth:`nas_gym.oneshot.darts.DARTS.step`) is an alpha-step on a D_V
batch and a w-step on a D_T batch (Liu et al. 2019, Alg. 1). The w-step alone (one
forward+backward of the relaxed supernet through ``forward_weighted`` and an SGD
update) is the baseline, measured in the same run on the same supernet and batches:

* ``w-step``: forward+backward of all 14 x 7 ops per cell and an SGD update;
* ``darts-1st``: + ``grad_alpha L_val(w, alpha)`` (one more forward+backward);
* ``darts-2nd``: + the virtual step, ``L_val(w', alpha)`` and the two finite-difference
  passes of the Hessian-vector product (four more forward+backward passes).

Usage::

    nice -n 10 env OMP_NUM_THREADS=1 python benchmarks/oneshot_step_times.py
    python benchmarks/oneshot_step_times.py --configs search --device cuda

``search`` is DARTS' search configuration (C=16, 8 cells, batch 64, 32x32).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

CONFIGS: dict[str, dict] = {
    "tiny": {"C": 4, "num_cells": 3, "batch": 16, "size": 16},
    "small": {"C": 8, "num_cells": 5, "batch": 16, "size": 16},
    "search": {"C": 16, "num_cells": 8, "batch": 64, "size": 32},
}
MODES: tuple[str, ...] = ("w-step", "darts-1st", "darts-2nd")


def measure(config: str, device: str, repeats: int, seed: int) -> dict[str, float]:
    """Median seconds per step of each mode (after one warm-up step each): wall clock and,
    on CPU, process CPU time (less sensitive to other jobs on a shared machine)."""
    import torch

    from nas_gym.oneshot.darts import DARTS, DARTSConfig
    from nas_gym.oneshot.loop import SearchConfig
    from nas_gym.supernets.darts import DARTSSupernet
    from nas_gym.supernets.pretrain import init_parameters

    cfg = CONFIGS[config]
    dev = torch.device(device)
    gen = torch.Generator().manual_seed(seed)

    def batch():
        x = torch.randn(cfg["batch"], 3, cfg["size"], cfg["size"], generator=gen)
        return x.to(dev), torch.randint(0, 10, (cfg["batch"],), generator=gen).to(dev)

    train, valid = batch(), batch()
    out: dict[str, float] = {}
    for mode in MODES:
        net = init_parameters(DARTSSupernet(C=cfg["C"], num_cells=cfg["num_cells"]), seed).to(dev)
        order = 2 if mode == "darts-2nd" else 1
        trainer = DARTS(net, SearchConfig(epochs=1, batch_size=cfg["batch"]), DARTSConfig(order))

        step = _step(mode, trainer, train, valid)
        times = []
        for i in range(repeats + 1):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0, c0 = time.perf_counter(), time.process_time()
            step()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i:  # the first step warms up allocators and kernels
                times.append((time.perf_counter() - t0, time.process_time() - c0))
        out[mode] = statistics.median(t for t, _ in times)
        out[f"{mode} cpu"] = statistics.median(c for _, c in times)
    return out


def _step(mode: str, trainer, train, valid):
    """The callable one timed step of ``mode`` runs."""
    if mode == "w-step":
        return lambda: trainer.w_step(train)
    return lambda: trainer.step(train, valid, rng=None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--configs", nargs="+", default=["tiny", "small"], choices=list(CONFIGS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per mode (median)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args()

    import torch

    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, {torch.get_num_threads()} thread(s), device {args.device}"
    print(f"machine: {machine}")
    key = " cpu" if args.device == "cpu" else ""
    unit = "CPU s" if key else "s"
    print(
        f"| config | C | cells | batch | px | w-step {unit} | darts-1st {unit} | darts-2nd {unit} "
        "| 1st / w | 2nd / w | 2nd / 1st | wall s (w / 1st / 2nd) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    results = {}
    for name in args.configs:
        cfg = CONFIGS[name]
        t = measure(name, args.device, args.repeats, args.seed)
        results[name] = {**cfg, **t}
        w, a1, a2 = (t[m + key] for m in MODES)
        print(
            f"| {name} | {cfg['C']} | {cfg['num_cells']} | {cfg['batch']} | {cfg['size']} | "
            f"{w:.3f} | {a1:.3f} | {a2:.3f} | {a1 / w:.2f} | {a2 / w:.2f} | {a2 / a1:.2f} | "
            f"{t['w-step']:.2f} / {t['darts-1st']:.2f} / {t['darts-2nd']:.2f} |",
            flush=True,
        )
    if args.json:
        from nas_gym.data import atomic_write_text

        data = {"machine": machine, "repeats": args.repeats, "results": results}
        atomic_write_text(args.json, json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
