"""The ProxylessNAS / MobileNetV2 search space: structure, discretization, strings, LUT keys."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from nas_gym.spaces import proxyless as space

PIXEL1 = "proxylessnas/pixel1_mobile_lut.yaml"


@pytest.fixture(scope="module")
def raw_lut(data_dir):
    with open(data_dir / PIXEL1) as fh:
        return yaml.safe_load(fh)


def test_macro_structure_matches_spec():
    assert space.SHAPE == (21, 7)
    assert [(layer.out_channels, layer.stride) for layer in space.LAYERS if layer.first] == [
        (24, 2),
        (40, 2),
        (80, 2),
        (96, 1),
        (192, 2),
        (320, 1),
    ]
    stages = [layer.stage for layer in space.LAYERS]
    assert stages == sorted([0, 1, 2, 3, 4] * 4 + [5])
    # 224 -> stem /2 -> 112 -> /2 /2 /2 (96 keeps) /2 -> 7
    assert (space.LAYERS[0].in_res, space.LAYERS[-1].out_res) == (112, 7)
    assert space.ALLOWED.sum() == 21 * 7 - 6  # zero banned on the 6 first layers
    assert space.N_ARCHS == 6**6 * 7**15


def test_discretize_masks_zero_on_first_layers_and_breaks_ties_low():
    alpha = np.zeros(space.SHAPE)
    alpha[:, space.ZERO] = 1.0  # zero is the largest everywhere
    ops = space.discretize(alpha)
    for layer, op in zip(space.LAYERS, ops, strict=True):
        assert op == (0 if layer.first else space.ZERO)  # first layers: tie among the rest -> e3k3
    alpha = np.random.default_rng(0).random(space.SHAPE)
    ops = space.discretize(alpha.reshape(-1))
    masked = np.where(space.ALLOWED, alpha, -1)
    assert ops == tuple(masked.argmax(axis=1).tolist())
    with pytest.raises(ValueError, match="shape"):
        space.discretize(np.zeros((21, 6)))


def test_string_and_one_hot_round_trip():
    rng = np.random.default_rng(1)
    for _ in range(50):
        ops = space.sample_ops(rng)
        text = space.ops_to_str(ops)
        assert space.str_to_ops(text) == ops
        assert space.discrete_to_ops(space.ops_to_discrete(ops)) == ops
        assert text.count("|") == 5
    text = "e6k3-e3k3-zero-zero|e6k5-zero-zero-zero|e3k3-e3k3-e3k3-e3k3|e3k3-zero-zero-zero|e6k7-e3k3-e3k3-e3k3|e6k7"
    assert space.ops_to_str(space.str_to_ops(text)) == text


@pytest.mark.parametrize(
    "bad, match",
    [
        ("e6k3", "stages"),
        (
            "zero-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3",
            "cannot be 'zero'",
        ),
        (
            "e9k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3",
            "unknown op 'e9k3'",
        ),
        (
            "e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3-e3k3-e3k3-e3k3|e3k3",
            "stage 0",
        ),
    ],
)
def test_bad_strings_are_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        space.str_to_ops(bad)


def test_uniform_sampling_covers_allowed_ops_evenly():
    rng = np.random.default_rng(2)
    counts = np.zeros(space.SHAPE)
    for _ in range(3000):
        counts[np.arange(21), space.sample_ops(rng)] += 1
    assert (counts[~space.ALLOWED] == 0).all()
    freq = counts / 3000
    expected = 1.0 / space.ALLOWED.sum(axis=1, keepdims=True)
    assert np.abs(freq - expected)[space.ALLOWED.astype(bool)].max() < 0.04


def test_block_keys_are_exactly_the_pixel1_table(raw_lut):
    keys = set(space.all_block_keys())
    lut = set(raw_lut)
    assert keys <= lut
    # the table also holds the fixed first block at kernels 5 and 7, which the space never uses
    assert lut - keys == {
        "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:5-stride:1-idskip:0",
        "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:7-stride:1-idskip:0",
    }
    assert len(keys) == 4 + 11 * 6  # fixed entries + 11 distinct layer shapes x 6 ops


def test_arch_keys_carry_identity_skip_flags():
    ops = space.str_to_ops(
        "e6k3-zero-e3k5-zero|e3k7-zero-zero-e6k7|e3k3-zero-zero-zero|e6k5-zero-zero-zero|e3k3-zero-zero-zero|e6k3"
    )
    keys = space.arch_keys(ops)
    assert keys[0] == "Conv-input:224x224x3-output:112x112x32"
    assert (
        keys[1]
        == "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0"
    )
    assert (
        keys[2]
        == "expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0"
    )
    assert (
        keys[3]
        == "expanded_conv-input:56x56x24-output:56x56x24-expand:3-kernel:5-stride:1-idskip:1"
    )
    assert keys[-2:] == [
        "Conv_1-input:7x7x320-output:7x7x1280",
        "Logits-input:7x7x1280-output:1000",
    ]
    assert len(keys) == 2 + 8 + 2  # stem, first block, 8 non-zero layers, head
    assert "96-expand:6-kernel:5-stride:1-idskip:0" in keys[7]  # 80 -> 96 changes channels: no skip


def test_analytic_flops_and_params_match_torch_counts():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from nas_gym.supernets.mobilenet import ProxylessSupernet, count_params

    net = ProxylessSupernet(num_classes=1000).eval()
    rng = np.random.default_rng(3)
    for ops in (
        space.sample_ops(rng),
        tuple([space.ZERO if not layer.first else 5 for layer in space.LAYERS]),
    ):
        sub = net.subnet(ops)
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            sub(torch.zeros(1, 3, 224, 224))
        assert space.flops_M(ops) == pytest.approx(counter.get_total_flops() / 2 / 1e6, abs=1e-6)
        assert space.params_M(ops) == pytest.approx(count_params(sub) / 1e6, abs=1e-6)
