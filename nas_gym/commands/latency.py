"""``nas-gym latency ...``: measure a latency table on this machine; look up an architecture."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("latency", help="latency lookup tables of the ProxylessNAS space")
    group = parser.add_subparsers(dest="latency_command", metavar="ACTION", required=True)

    m = group.add_parser(
        "measure",
        help="time every block of the ProxylessNAS space with torch here; write a LUT (cached)",
    )
    m.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    m.add_argument("--repeats", type=int, default=20, help="timed runs per block (median kept)")
    m.add_argument("--warmup", type=int, default=5, help="untimed runs per block first")
    m.add_argument("--threads", type=int, default=1, help="torch intra-op threads while timing")
    m.add_argument("--batch-size", type=int, default=1, help="images per forward pass")
    m.add_argument(
        "--resolution",
        type=int,
        default=224,
        help="input side (224 = the real space; smaller gives a quick table keyed at that size)",
    )
    m.add_argument("--out", default=None, help="table path (default: the cache directory)")
    m.add_argument("--force", action="store_true", help="re-measure even if the table exists")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=_measure)

    e = group.add_parser("estimate", help="latency of architectures (string form) from a table")
    e.add_argument("archs", nargs="+", help="e.g. e6k3-e3k3-zero-zero|...|e6k7")
    e.add_argument("--lut", default="pixel1", help="pixel1, cpu, cuda or a table path")
    e.add_argument("--data-dir", default=None, help="data directory (for pixel1)")
    e.set_defaults(func=_estimate)


#: Smallest input side a measured table may use. The space halves the side five times
#: (stem and four strided stages); below 8 px even the first stages time 1x1 maps, so
#: the table would not rank blocks at all (8-16 px give quick test tables; 224 is real).
MIN_MEASURE_RESOLUTION = 8


def _measure(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    if args.resolution < MIN_MEASURE_RESOLUTION:
        raise ValueError(
            f"--resolution must be >= {MIN_MEASURE_RESOLUTION} (224 = the real space), "
            f"got {args.resolution}"
        )

    from nas_gym.benchmarks.latency import load_lut, measure, measured_path
    from nas_gym.data import check_out_file
    from nas_gym.spaces import proxyless as space

    target = args.out or measured_path(args.device, args.resolution, args.threads, args.batch_size)
    check_out_file(target)  # before minutes of timing, not when the table is written
    reused = not args.force and Path(target).is_file()
    start = time.perf_counter()
    path = measure(
        args.device,
        resolution=args.resolution,
        repeats=args.repeats,
        warmup=args.warmup,
        threads=args.threads,
        batch_size=args.batch_size,
        out=args.out,
        force=args.force,
        progress=not args.no_progress,
    )
    elapsed = time.perf_counter() - start
    table = load_lut(path)
    table.require(space.all_block_keys(table.resolution))
    mbv2 = space.str_to_ops(
        "-".join(["e6k3"] * 4) + "|" + "|".join(["-".join(["e6k3"] * 4)] * 4) + "|e6k3"
    )
    print(
        f"{'reused' if reused else 'measured'} {len(table)} blocks in {elapsed:.1f} s -> {path}\n"
        f"all-e6k3 network at {table.resolution}px: {table.latency(mbv2):.3f} ms"
    )
    return 0


def _estimate(args: argparse.Namespace) -> int:
    from nas_gym.benchmarks.latency import load_lut
    from nas_gym.spaces import proxyless as space

    table = load_lut(args.lut, args.data_dir)
    for arch in args.archs:
        ops = space.str_to_ops(arch)
        print(
            f"{table.latency(ops):10.3f} ms  {space.flops_M(ops):8.1f} MFLOPs  "
            f"{space.params_M(ops):6.3f} M params  {arch}"
        )
    return 0
