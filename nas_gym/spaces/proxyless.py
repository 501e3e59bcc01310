"""The ProxylessNAS / MobileNetV2 search space (Cai et al., ICLR 2019; UNAS, Vahdat et al., CVPR 2020).

A MobileNetV2 macro network at 224x224 (Sandler et al., CVPR 2018)::

    stem        conv 3x3, 32 channels, stride 2             (fixed)
    first block MBConv expand 1, kernel 3, 16 channels      (fixed)
    21 searchable layers in 6 stages of (channels, layers, first stride):
        (24, 4, 2) (40, 4, 2) (80, 4, 2) (96, 4, 1) (192, 4, 2) (320, 1, 1)
    head        conv 1x1 to 1280, global pool, classifier   (fixed)

Each searchable layer picks one of 7 ops: an inverted-residual block (MBConv)
with expand ratio 3 or 6 and a depthwise kernel of 3, 5 or 7, or ``zero`` (the
layer is skipped). ``zero`` is allowed only on layers that are not the first of
their stage, because the first layer changes the shape. Non-first layers keep
the shape and carry an identity skip, which is why the latency table keys them
with ``idskip:1``.

Representations, all interconvertible:

* ``ops``: a tuple of 21 op indices into :data:`OPS`;
* ``arch_str``: the readable form, stages joined by ``|`` and layers by ``-``,
  e.g. ``e6k3-e3k3-zero-zero|e6k5-...|e6k7``;
* ``discrete`` (alpha_d): a one-hot ``(21, 7)`` matrix.

The continuous action alpha in [0, 1]^(21x7) maps to alpha_d by an argmax per row
over the ops *allowed on that row* (``zero`` is masked on first layers). Ties go
to the lowest op index. numpy only: the torch supernet lives in
:mod:`nas_gym.supernets.mobilenet`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: (output channels, layers, stride of the first layer) per stage.
STAGES: tuple[tuple[int, int, int], ...] = (
    (24, 4, 2),
    (40, 4, 2),
    (80, 4, 2),
    (96, 4, 1),
    (192, 4, 2),
    (320, 1, 1),
)
OPS: tuple[str, ...] = ("e3k3", "e3k5", "e3k7", "e6k3", "e6k5", "e6k7", "zero")
"""``eXkY`` = MBConv with expand ratio X and depthwise kernel Y; ``zero`` skips the layer."""
ZERO = OPS.index("zero")
#: (expand, kernel) of every MBConv op, indexed like :data:`OPS`.
MBCONV: tuple[tuple[int, int], ...] = ((3, 3), (3, 5), (3, 7), (6, 3), (6, 5), (6, 7))

RESOLUTION = 224
STEM_CHANNELS = 32
STEM_STRIDE = 2
FIRST_BLOCK_CHANNELS = 16
FIRST_BLOCK = (1, 3)  # (expand, kernel) of the fixed first MBConv
HEAD_CHANNELS = 1280
N_CLASSES = 1000  # the ImageNet classifier the latency table was measured with

N_LAYERS = sum(n for _, n, _ in STAGES)  # 21
N_OPS = len(OPS)  # 7
SHAPE = (N_LAYERS, N_OPS)


@dataclass(frozen=True)
class Layer:
    """One searchable layer at a given input resolution."""

    index: int
    stage: int
    first: bool  # first layer of its stage: changes the shape, ``zero`` not allowed
    in_res: int
    out_res: int
    in_channels: int
    out_channels: int
    stride: int

    @property
    def idskip(self) -> int:
        """1 if the block has an identity shortcut (same shape in and out)."""
        return int(self.stride == 1 and self.in_channels == self.out_channels)


def conv_out(res: int, stride: int) -> int:
    """Spatial size after a 'same'-padded conv (``ceil(res / stride)``, as in torch with pad k//2)."""
    return (res + stride - 1) // stride


def layers(resolution: int = RESOLUTION) -> tuple[Layer, ...]:
    """The 21 searchable layers for an input of ``resolution`` pixels."""
    if (
        isinstance(resolution, bool)
        or not isinstance(resolution, (int, np.integer))
        or resolution < 1
    ):
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    res = conv_out(int(resolution), STEM_STRIDE)  # stem; the first block keeps the size
    cin = FIRST_BLOCK_CHANNELS
    out: list[Layer] = []
    for stage, (cout, n, first_stride) in enumerate(STAGES):
        for i in range(n):
            stride = first_stride if i == 0 else 1
            new_res = conv_out(res, stride)
            out.append(Layer(len(out), stage, i == 0, res, new_res, cin, cout, stride))
            res, cin = new_res, cout
    return tuple(out)


LAYERS: tuple[Layer, ...] = layers()
#: allowed[row, op]: False only for ``zero`` on the first layer of a stage.
ALLOWED: np.ndarray = np.ones(SHAPE, dtype=bool)
for _layer in LAYERS:
    if _layer.first:
        ALLOWED[_layer.index, ZERO] = False
ALLOWED.flags.writeable = False
_MASK = np.where(ALLOWED, 0.0, -np.inf)
N_ARCHS = int(np.prod(ALLOWED.sum(axis=1), dtype=object))  # 6**6 * 7**15


def op_mask() -> np.ndarray:
    """Read-only ``(21, 7)`` bool mask: False where :func:`discretize` never picks the op
    (``zero`` on a stage's first layer); True = the op is executed as proposed."""
    return ALLOWED


def check_ops(ops: Sequence[int]) -> tuple[int, ...]:
    """Validate an architecture given as 21 op indices."""
    try:
        ops = tuple(int(o) for o in ops)
    except (TypeError, ValueError) as err:
        raise ValueError(f"ops must be {N_LAYERS} integers in [0, {N_OPS}), got {ops!r}") from err
    if len(ops) != N_LAYERS or any(not 0 <= o < N_OPS for o in ops):
        raise ValueError(f"ops must be {N_LAYERS} integers in [0, {N_OPS}), got {ops!r}")
    for layer, op in zip(LAYERS, ops, strict=True):
        if op == ZERO and layer.first:
            raise ValueError(
                f"layer {layer.index} is the first of stage {layer.stage} and cannot be 'zero'; "
                f"allowed: {', '.join(OPS[:ZERO])}"
            )
    return ops


def discretize(alpha: np.ndarray) -> tuple[int, ...]:
    """alpha_d of a continuous alpha: argmax per row over the allowed ops (ties -> lowest index)."""
    alpha = np.asarray(alpha, dtype=np.float64)
    if alpha.shape != SHAPE and alpha.shape != (N_LAYERS * N_OPS,):
        raise ValueError(f"alpha has shape {alpha.shape}; expected {SHAPE} (or flat)")
    return tuple((alpha.reshape(SHAPE) + _MASK).argmax(axis=1).tolist())


def ops_to_discrete(ops: Sequence[int]) -> np.ndarray:
    """One-hot ``(21, 7)`` float32 matrix."""
    ops = check_ops(ops)
    out = np.zeros(SHAPE, dtype=np.float32)
    out[np.arange(N_LAYERS), ops] = 1.0
    return out


def discrete_to_ops(discrete: np.ndarray) -> tuple[int, ...]:
    """Inverse of :func:`ops_to_discrete`; raises ValueError unless exactly one-hot."""
    discrete = np.asarray(discrete)
    if discrete.shape != SHAPE:
        raise ValueError(f"alpha_d has shape {discrete.shape}; expected {SHAPE}")
    if not (np.isin(discrete, (0, 1)).all() and (discrete.sum(axis=1) == 1).all()):
        raise ValueError("alpha_d must have exactly one 1 per row and zeros elsewhere")
    return check_ops(discrete.argmax(axis=1).tolist())


def ops_to_str(ops: Sequence[int]) -> str:
    """Readable form: ``e6k3-e3k3-zero-zero|...`` (one group per stage)."""
    ops = check_ops(ops)
    groups, start = [], 0
    for _, n, _ in STAGES:
        groups.append("-".join(OPS[o] for o in ops[start : start + n]))
        start += n
    return "|".join(groups)


def str_to_ops(arch_str: str) -> tuple[int, ...]:
    """Parse :func:`ops_to_str` output; errors name the bad part."""
    if not isinstance(arch_str, str):
        raise ValueError(f"architecture string must be a str, got {type(arch_str).__name__}")
    groups = arch_str.strip().split("|")
    if len(groups) != len(STAGES):
        raise ValueError(
            f"architecture string {arch_str!r} has {len(groups)} '|'-separated stages; expected {len(STAGES)}"
        )
    ops: list[int] = []
    for stage, (group, (_, n, _)) in enumerate(zip(groups, STAGES, strict=True)):
        names = group.split("-")
        if len(names) != n:
            raise ValueError(f"stage {stage} of {arch_str!r} has {len(names)} layers; expected {n}")
        for name in names:
            if name not in OPS:
                raise ValueError(f"unknown op {name!r} in {arch_str!r}; allowed: {', '.join(OPS)}")
            ops.append(OPS.index(name))
    return check_ops(ops)


def sample_ops(rng: np.random.Generator) -> tuple[int, ...]:
    """A uniformly random architecture: each row uniform over its allowed ops.

    Same distribution as the CADAM pre-training recipe (alpha ~ U(0,1), then
    :func:`discretize`), because the argmax of i.i.d. uniforms is uniform.
    """
    alpha = rng.random(SHAPE)
    return discretize(alpha)


# -- latency-table keys (ProxylessNAS LUT format) -------------------------------------------


def _shape(res: int, channels: int) -> str:
    return f"{res}x{res}x{channels}"


def mbconv_key(
    in_res: int,
    in_channels: int,
    out_res: int,
    out_channels: int,
    expand: int,
    kernel: int,
    stride: int,
    idskip: int,
) -> str:
    """Key of one ``expanded_conv`` block, exactly as in ``pixel1_mobile_lut.yaml``."""
    return (
        f"expanded_conv-input:{_shape(in_res, in_channels)}-output:{_shape(out_res, out_channels)}"
        f"-expand:{expand}-kernel:{kernel}-stride:{stride}-idskip:{idskip}"
    )


def stem_key(resolution: int = RESOLUTION) -> str:
    res = conv_out(resolution, STEM_STRIDE)
    return f"Conv-input:{_shape(resolution, 3)}-output:{_shape(res, STEM_CHANNELS)}"


def first_block_key(resolution: int = RESOLUTION) -> str:
    res = conv_out(resolution, STEM_STRIDE)
    e, k = FIRST_BLOCK
    return mbconv_key(res, STEM_CHANNELS, res, FIRST_BLOCK_CHANNELS, e, k, 1, 0)


def head_keys(resolution: int = RESOLUTION) -> tuple[str, str]:
    """The final 1x1 conv (``Conv_1``) and the classifier (``Logits``)."""
    last = layers(resolution)[-1]
    r, c = last.out_res, last.out_channels
    return (
        f"Conv_1-input:{_shape(r, c)}-output:{_shape(r, HEAD_CHANNELS)}",
        f"Logits-input:{_shape(r, HEAD_CHANNELS)}-output:{N_CLASSES}",
    )


def layer_key(layer: Layer, op: int) -> str:
    """LUT key of op ``op`` on ``layer`` (not defined for ``zero``)."""
    if op == ZERO:
        raise ValueError(f"'zero' on layer {layer.index} has no latency entry (it is skipped)")
    e, k = MBCONV[op]
    return mbconv_key(
        layer.in_res,
        layer.in_channels,
        layer.out_res,
        layer.out_channels,
        e,
        k,
        layer.stride,
        layer.idskip,
    )


def fixed_keys(resolution: int = RESOLUTION) -> list[str]:
    """LUT entries every architecture runs: stem, first block, final conv, classifier."""
    return [stem_key(resolution), first_block_key(resolution), *head_keys(resolution)]


def arch_keys(ops: Sequence[int], resolution: int = RESOLUTION) -> list[str]:
    """Every LUT entry an architecture runs: stem, first block, non-zero layers, head.

    Non-first layers keep their ``idskip:1`` flag even when an earlier layer of the
    stage is ``zero``: their shape, and so their shortcut, does not change.
    """
    ops = check_ops(ops)
    stem, first, conv1, logits = fixed_keys(resolution)
    keys = [stem, first]
    keys += [
        layer_key(layer, op)
        for layer, op in zip(layers(resolution), ops, strict=True)
        if op != ZERO
    ]
    return [*keys, conv1, logits]


def all_block_keys(resolution: int = RESOLUTION) -> list[str]:
    """Every LUT entry the space can use (fixed blocks and 21 x 6 layer blocks), deduplicated."""
    keys = fixed_keys(resolution)
    for layer in layers(resolution):
        keys += [layer_key(layer, op) for op in range(ZERO)]
    return list(dict.fromkeys(keys))


# -- analytic cost (for the info dict; checked against torch in the tests) -------------------


def _mbconv_cost(
    layer_res_in: int, res_out: int, cin: int, cout: int, e: int, k: int
) -> tuple[int, int]:
    """(multiply-accumulates, parameters) of one MBConv: [1x1 expand + BN] + kxk depthwise + BN + 1x1 project + BN."""
    mid = cin * e
    macs = params = 0
    if e != 1:
        macs += layer_res_in * layer_res_in * cin * mid
        params += cin * mid + 2 * mid
    macs += res_out * res_out * mid * k * k
    params += mid * k * k + 2 * mid
    macs += res_out * res_out * mid * cout
    params += mid * cout + 2 * cout
    return macs, params


def _cost_tables() -> tuple[tuple[int, int], list[list[int]], list[list[int]]]:
    r1 = conv_out(RESOLUTION, STEM_STRIDE)
    fixed_macs = r1 * r1 * 3 * STEM_CHANNELS * 9
    fixed_params = 3 * STEM_CHANNELS * 9 + 2 * STEM_CHANNELS
    m, p = _mbconv_cost(r1, r1, STEM_CHANNELS, FIRST_BLOCK_CHANNELS, *FIRST_BLOCK)
    fixed_macs, fixed_params = fixed_macs + m, fixed_params + p
    last = LAYERS[-1]
    r = last.out_res
    fixed_macs += r * r * last.out_channels * HEAD_CHANNELS + HEAD_CHANNELS * N_CLASSES
    fixed_params += last.out_channels * HEAD_CHANNELS + 2 * HEAD_CHANNELS
    fixed_params += HEAD_CHANNELS * N_CLASSES + N_CLASSES
    macs = [[0] * N_OPS for _ in LAYERS]
    params = [[0] * N_OPS for _ in LAYERS]
    for layer in LAYERS:
        for op, (e, k) in enumerate(MBCONV):
            macs[layer.index][op], params[layer.index][op] = _mbconv_cost(
                layer.in_res, layer.out_res, layer.in_channels, layer.out_channels, e, k
            )
    return (fixed_macs, fixed_params), macs, params


_FIXED, _LAYER_MACS, _LAYER_PARAMS = _cost_tables()


def flops_M(ops: Sequence[int]) -> float:
    """Millions of multiply-accumulates at 224x224 with the 1000-class head (the usual 'FLOPs' of
    mobile NAS papers; convolutions and the classifier, not BN/activations)."""
    ops = check_ops(ops)
    return (_FIXED[0] + sum(_LAYER_MACS[i][o] for i, o in enumerate(ops))) / 1e6


def params_M(ops: Sequence[int]) -> float:
    """Millions of parameters (conv weights, BN affine, classifier) with the 1000-class head."""
    ops = check_ops(ops)
    return (_FIXED[1] + sum(_LAYER_PARAMS[i][o] for i, o in enumerate(ops))) / 1e6
