"""Latency lookup tables: the Pixel-1 table, hand-computed sums, missing entries, measuring on CPU."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from nas_gym.benchmarks import latency as lat
from nas_gym.cli import main as cli_main
from nas_gym.data import DataError
from nas_gym.spaces import proxyless as space

#: (input HxWxC, output HxWxC, stride) of the 21 layers at 224, written out by hand.
SHAPES = (
    [("112x112x16", "56x56x24", 2)] + [("56x56x24", "56x56x24", 1)] * 3
    + [("56x56x24", "28x28x40", 2)] + [("28x28x40", "28x28x40", 1)] * 3
    + [("28x28x40", "14x14x80", 2)] + [("14x14x80", "14x14x80", 1)] * 3
    + [("14x14x80", "14x14x96", 1)] + [("14x14x96", "14x14x96", 1)] * 3
    + [("14x14x96", "7x7x192", 2)] + [("7x7x192", "7x7x192", 1)] * 3
    + [("7x7x192", "7x7x320", 1)]
)  # fmt: skip
FIXED = (
    "Conv-input:224x224x3-output:112x112x32",
    "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0",
    "Conv_1-input:7x7x320-output:7x7x1280",
    "Logits-input:7x7x1280-output:1000",
)


def hand_sum(raw: dict, choices: list[tuple[int, int] | None]) -> float:
    """Latency by hand: fixed entries + one block per non-zero layer, idskip when shape is kept."""
    total = sum(raw[k]["mean"] for k in FIXED)
    for (cin, cout, s), choice in zip(SHAPES, choices, strict=True):
        if choice is None:
            continue
        e, k = choice
        skip = int(cin == cout)
        total += raw[
            f"expanded_conv-input:{cin}-output:{cout}-expand:{e}-kernel:{k}-stride:{s}-idskip:{skip}"
        ]["mean"]
    return total


@pytest.fixture(scope="module")
def raw(data_dir):
    with open(data_dir / lat.PIXEL1_RELPATH) as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def pixel1(data_dir):
    return lat.load_lut("pixel1", data_dir)


def test_pixel1_table_loads(pixel1):
    assert len(pixel1) == 72 and pixel1.resolution == 224
    pixel1.require(space.all_block_keys())


def test_known_architectures_equal_hand_computed_sums(raw, pixel1):
    # shallowest network: only the first layer of each stage, all e3k3
    shallow = [(3, 3) if i in (0, 4, 8, 12, 16, 20) else None for i in range(21)]
    ops = space.str_to_ops(
        "e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3"
    )
    assert pixel1.latency(ops) == pytest.approx(hand_sum(raw, shallow), rel=1e-12)
    # deepest, widest: every layer e6k7
    ops = space.str_to_ops("|".join(["-".join(["e6k7"] * 4)] * 5) + "|e6k7")
    assert pixel1.latency(ops) == pytest.approx(hand_sum(raw, [(6, 7)] * 21), rel=1e-12)
    # a mixed architecture, and the batched / env fast paths agree with the sum
    rng = np.random.default_rng(0)
    for _ in range(20):
        ops = space.sample_ops(rng)
        choices = [None if o == space.ZERO else space.MBCONV[o] for o in ops]
        expected = hand_sum(raw, choices)
        assert pixel1.latency(ops) == pytest.approx(expected, rel=1e-12)
        assert lat.latency_array(pixel1, np.array([ops]))[0] == pytest.approx(expected, rel=1e-12)


def test_missing_entry_is_an_error_not_zero(raw, tmp_path):
    key = "expanded_conv-input:14x14x96-output:14x14x96-expand:6-kernel:5-stride:1-idskip:1"
    partial = {k: v for k, v in raw.items() if k != key}
    path = tmp_path / "partial.yaml"
    path.write_text(yaml.safe_dump(partial))
    table = lat.load_lut(path)
    uses = space.str_to_ops(
        "e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-e6k5-zero-zero|e3k3-zero-zero-zero|e3k3"
    )
    with pytest.raises(DataError, match="kernel:5-stride:1-idskip:1"):
        table.latency(uses)
    with pytest.raises(DataError, match="never counted as zero"):
        table.layer_matrix()
    avoids = space.str_to_ops(
        "e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3-zero-zero-zero|e3k3"
    )
    assert table.latency(avoids) > 0


@pytest.mark.parametrize(
    "text, match",
    [
        ("[1, 2]", "non-empty mapping"),
        ("a: 3", "must be a mapping with a 'mean'"),
        ("Conv-input:224x224x3-output:112x112x32: {mean: -1}", "finite and >= 0"),
        ("Conv-input:224x224x3-output:112x112x32: {mean: abc}", "non-numeric"),
        ("x: {mean: 1.0}", "no stem entry"),
        ("a: [unclosed", "not valid YAML"),
    ],
)
def test_bad_tables_are_clear_errors(tmp_path, text, match):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        lat.load_lut(path)


def test_unknown_table_name():
    with pytest.raises(ValueError, match="pass one of pixel1, cpu, cuda"):
        lat.load_lut("pixel2")


def test_measure_on_cpu_writes_the_same_format(_isolated_cache):
    path = lat.measure("cpu", resolution=16, repeats=2, warmup=1, progress=False)
    assert (
        path.parent == _isolated_cache / "latency" and path.name == "cpu_16px_1threads_batch1.yaml"
    )
    table = lat.load_lut(path)
    assert table.resolution == 16
    table.require(space.all_block_keys(16))  # every block of the space, at 16 px keys
    assert set(table.entries) == set(space.all_block_keys(16))
    assert all(math.isfinite(v) and v > 0 for v in table.entries.values())
    raw = yaml.safe_load(path.read_text())
    assert all(set(v) == {"count", "mean", "var"} and v["count"] == 2 for v in raw.values())
    assert "device: cpu" in table.header and "threads: 1" in table.header
    # cached: a second call reuses the file; force re-measures
    mtime = path.stat().st_mtime_ns
    assert lat.measure("cpu", resolution=16, repeats=2, progress=False) == path
    assert path.stat().st_mtime_ns == mtime
    lat.measure("cpu", resolution=16, repeats=1, warmup=0, progress=False, force=True)
    assert yaml.safe_load(path.read_text())[space.stem_key(16)]["count"] == 1
    # "cpu" names the default (224 px) table only: the 16 px one is offered by its path
    with pytest.raises(DataError) as err:
        lat.load_lut("cpu")
    message = str(err.value)
    assert "'cpu' is the 224 px, 1-thread, batch-1 table" in message
    assert message.endswith(f"pass a table measured with other settings by path: {path}")
    assert lat.load_lut(str(path)).resolution == 16


def test_measure_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        lat.measure("tpu", out=tmp_path / "x.yaml")
    with pytest.raises(ValueError, match="repeats must be a positive integer"):
        lat.measure("cpu", repeats=0, out=tmp_path / "x.yaml")


def test_cli_measure_and_estimate(tmp_path, capsys, data_dir):
    out = tmp_path / "t.yaml"
    rc = cli_main(
        [
            "latency",
            "measure",
            "--resolution",
            "8",
            "--repeats",
            "1",
            "--warmup",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.is_file()
    assert "measured 70 blocks" in capsys.readouterr().out
    arch = "e6k3-e3k3-zero-zero|e6k5-zero-zero-zero|e3k3-e3k3-e3k3-e3k3|e3k3-zero-zero-zero|e6k7-e3k3-e3k3-e3k3|e6k7"
    assert cli_main(["latency", "estimate", arch, "--data-dir", str(data_dir)]) == 0
    printed = capsys.readouterr().out
    expected = lat.load_lut("pixel1", data_dir).latency(space.str_to_ops(arch))
    assert f"{expected:10.3f} ms" in printed
    assert cli_main(["latency", "estimate", "e6k3"]) == 2
    assert "expected 6" in capsys.readouterr().err
