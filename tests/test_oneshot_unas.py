"""UNAS one-shot search: the factorised distributions, REBAR's identity and unbiasedness
against exact enumeration, the latency surrogate, and the CLI with a real kill and resume."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pytest
import torch

from nas_gym.agents.unas.estimators import score_function_objective
from nas_gym.benchmarks.latency import latency_array, load_lut
from nas_gym.oneshot.loop import SearchConfig, read_search_checkpoint
from nas_gym.oneshot.unas import (
    UNASConfig,
    UNASTrainer,
    fastest_latency,
    fit_latency_surrogate,
)
from nas_gym.oneshot.unas_dist import (
    INPUT_MASK,
    FactorizedCell,
    LayerCategorical,
    sample_cells,
    sample_input_pair,
)
from nas_gym.spaces import darts as darts_space
from nas_gym.spaces import proxyless as proxyless_space
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.mobilenet import ProxylessSupernet
from tests.test_datasets import make_tiny_cifar

torch.set_num_threads(1)
F64 = torch.float64


def _familywise_z(k: int, alpha: float = 1e-3) -> float:
    """|z| bound that k independent N(0, 1) components all stay under with prob. 1 - alpha
    (Bonferroni): the tolerance comes from the sample std and the number of checks."""
    return NormalDist().inv_cdf(1 - alpha / (2 * k))


def _assert_mean_matches(estimates: torch.Tensor, target: torch.Tensor) -> None:
    mean = estimates.mean(0)
    se = estimates.std(0) / math.sqrt(len(estimates))
    live = se > 0
    # components no sample moves (padding inputs) must have an exactly zero target
    assert torch.equal(target[~live], torch.zeros_like(target[~live]))
    z = ((mean - target).abs() / se)[live]
    bound = _familywise_z(int(live.sum()))
    assert z.max() < bound, f"max |mean - target| / SE = {z.max():.2f} >= {bound:.2f}"


def test_second_input_is_never_the_first_and_log_prob_is_exact():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, generator=gen, dtype=F64)
    mask = INPUT_MASK[2]  # node 2: 4 inputs
    n = 40_000
    u = torch.rand(n, 2, 5, generator=gen, dtype=F64)
    _, hard, log_p = sample_input_pair(logits.expand(n, 2, 5), u, 0.4, mask)
    pairs = hard.argmax(-1)
    assert (pairs < 4).all(), "a padding input was sampled"
    assert (pairs[:, 0] != pairs[:, 1]).all(), "an input was sampled twice"
    first = torch.log_softmax(logits[0, :4], -1)
    for a in range(4):
        second = torch.log_softmax(logits[1, :4].masked_fill(torch.arange(4) == a, -math.inf), -1)
        for b in range(4):
            hit = (pairs[:, 0] == a) & (pairs[:, 1] == b)
            if a == b:
                continue
            exact = float(first[a] + second[b])
            torch.testing.assert_close(log_p[hit], torch.full_like(log_p[hit], exact))
            p = math.exp(exact)  # frequency within 4.5 binomial SE
            assert abs(float(hit.double().mean()) - p) < 4.5 * math.sqrt(p * (1 - p) / n)


def test_factorized_cells_are_valid_genotypes_and_relaxed_weights_match():
    dist = FactorizedCell()
    with torch.no_grad():
        dist.input_logits.normal_(generator=torch.Generator().manual_seed(1))
    sample = dist.sample(64, torch.Generator().manual_seed(2))
    for alpha_d in sample.hard.numpy():
        g = darts_space.to_genotype(alpha_d)  # raises unless 2 distinct inputs per node
        np.testing.assert_array_equal(darts_space.from_genotype(g), alpha_d)
    # each node's relaxed weights sum to 2 (two selectors), like its 2 discrete edges
    for start, end in darts_space.NODE_ROWS:
        torch.testing.assert_close(
            sample.relaxed[:, :, start:end].sum((-2, -1)), torch.full((64, 2), 2.0)
        )
    mode = dist.mode()
    assert darts_space.str_to_genotype(dist.describe(mode)) == darts_space.to_genotype(mode)


def test_layer_categorical_never_puts_weight_on_masked_zero():
    dist = LayerCategorical()
    with torch.no_grad():
        dist.logits[:, proxyless_space.ZERO] = 5.0  # zero favoured wherever it is allowed
    sample = dist.sample(200, torch.Generator().manual_seed(0))
    first = [layer.index for layer in proxyless_space.LAYERS if layer.first]
    assert (sample.relaxed[:, first, proxyless_space.ZERO] == 0).all()
    assert (sample.hard[:, first, proxyless_space.ZERO] == 0).all()
    for ops in sample.hard.argmax(-1).tolist():
        proxyless_space.check_ops(ops)
    assert all(dist.mode()[i] != proxyless_space.ZERO for i in first)


# -- REBAR on the factorised cell: exact gradient by enumerating node 1 of the normal cell


def _node_loss(weights: torch.Tensor, coefs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """A nonlinear loss of the normal cell's node-1 edge weights (rows 2..4)."""
    a, b, c = coefs
    w = weights[..., 0, 2:5, :]
    return (w * a).sum((-2, -1)) + (w * b).sum((-2, -1)) ** 2 + torch.tanh((w * c).sum((-2, -1)))


def _problem(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randn(2, 4, 2, 5, generator=gen, dtype=F64)
    ops = torch.randn(2, 4, 2, 7, generator=gen, dtype=F64)
    coefs = tuple(torch.randn(3, 7, generator=gen, dtype=F64) for _ in range(3))
    return inputs, ops, coefs


def _exact_gradient(inputs, ops, coefs) -> torch.Tensor:
    """d/dphi E_p[L(z)], summing p(z) L(z) over node 1's 6 input pairs x 49 op pairs."""
    il, ol = inputs.clone().requires_grad_(), ops.clone().requires_grad_()
    first = torch.log_softmax(il[0, 1, 0, :3], -1)
    op_lp = torch.log_softmax(ol[0, 1], -1)
    total = torch.zeros((), dtype=F64)
    for a in range(3):
        second = torch.log_softmax(il[0, 1, 1, :3].masked_fill(torch.arange(3) == a, -math.inf), -1)
        for b in (j for j in range(3) if j != a):
            for oa in range(7):
                for ob in range(7):
                    w = torch.zeros(2, 14, 7, dtype=F64)
                    w[0, 2 + a, oa] += 1
                    w[0, 2 + b, ob] += 1
                    log_p = first[a] + second[b] + op_lp[0, oa] + op_lp[1, ob]
                    total = total + log_p.exp() * _node_loss(w, coefs)
    total.backward()
    return torch.cat([il.grad.flatten(), ol.grad.flatten()])


def _estimates(inputs, ops, coefs, n: int, seed: int, control_only: bool) -> torch.Tensor:
    """n single-sample REBAR estimates (one logits leaf per sample, one backward pass)."""
    gen = torch.Generator().manual_seed(seed)
    il = inputs.expand(n, *inputs.shape).clone().requires_grad_()
    ol = ops.expand(n, *ops.shape).clone().requires_grad_()
    u_in = torch.rand(il.shape, generator=gen, dtype=F64)
    u_op = torch.rand(ol.shape, generator=gen, dtype=F64)
    sample = sample_cells(il, ol, u_in, u_op, tau=0.4)
    value = torch.zeros(n, dtype=F64) if control_only else _node_loss(sample.hard, coefs)
    control = _node_loss(sample.relaxed, coefs)
    score_function_objective(sample.log_prob, value, control).sum().backward()
    return torch.cat([il.grad.flatten(1), ol.grad.flatten(1)], dim=1)


def test_rebar_is_unbiased_against_exact_enumeration():
    inputs, ops, coefs = _problem()
    exact = _exact_gradient(inputs, ops, coefs)
    assert exact.abs().max() > 0.05  # a non-trivial gradient to match
    _assert_mean_matches(_estimates(inputs, ops, coefs, 4000, seed=1, control_only=False), exact)


def test_rebar_control_variate_terms_have_zero_expectation():
    """With L = 0 only the control-variate terms remain:
    -c(zeta~) d log p(z) + d c(zeta) - d c(zeta~) must average to 0 (the REBAR identity)."""
    inputs, ops, coefs = _problem(seed=3)
    est = _estimates(inputs, ops, coefs, 4000, seed=4, control_only=True)
    assert est.abs().mean() > 0.1  # the terms are large per sample ...
    _assert_mean_matches(est, torch.zeros(est.shape[1], dtype=F64))  # ... and cancel on average


# -- latency


def test_linear_latency_surrogate_matches_the_table():
    table = load_lut("pixel1")
    g = fit_latency_surrogate(table, 2000, torch.Generator().manual_seed(0))
    assert g.r2 > 0.999  # a table latency is a sum over layers: linear in the one-hot ops
    rng = np.random.default_rng(1)
    ops = np.stack([proxyless_space.sample_ops(rng) for _ in range(50)])
    onehot = torch.nn.functional.one_hot(torch.as_tensor(ops), proxyless_space.N_OPS).float()
    np.testing.assert_allclose(g(onehot).numpy(), latency_array(table, ops), rtol=0.01)


def test_bad_latency_targets_are_refused_clearly():
    net = ProxylessSupernet(10, width_mult=0.1)
    search = SearchConfig(epochs=2, batch_size=4)
    fastest = fastest_latency(load_lut("pixel1"))
    with pytest.raises(ValueError, match=r"latency target 1.0 ms is below every architecture"):
        UNASTrainer(net, "proxyless", search, UNASConfig(latency_target=1.0), 2)
    with pytest.raises(ValueError, match="needs the proxyless space"):
        UNASTrainer(
            DARTSSupernet(C=4, num_cells=3),
            "darts",
            search,
            UNASConfig(latency_target=fastest + 1),
            2,
        )
    with pytest.raises(ValueError, match=r"UNASConfig.tau must be a finite number > 0, got 0"):
        UNASConfig(tau=0)
    with pytest.raises(ValueError, match=r"warmup_epochs \(2\) must be < epochs \(2\)"):
        UNASTrainer(net, "proxyless", search, UNASConfig(warmup_epochs=2), 2)


# -- the command line: end to end, and a real kill and resume


def _cli(out: Path, root: Path, epochs: int, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "nas_gym.cli", "search", "unas", "--out", str(out),
        "--root", str(root), "--no-verify", "--resolution", "8", "--channels", "4", "--cells", "3",
        "--batch-size", "8", "--epochs", str(epochs), "--no-augment", "--seed", "3",
        "--score-batches", "1", "--no-progress", *extra,
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def test_cli_proxyless_with_latency_target_end_to_end(tmp_path):
    root = make_tiny_cifar(tmp_path / "data", per_class=4)
    out = tmp_path / "run"
    cmd = _cli(out, root, 2, "--space", "proxyless", "--width-mult", "0.1", "--resolution", "16")
    cmd += ["--latency-target", "80", "--surrogate-samples", "500", "--warmup-epochs", "1"]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "latency surrogate: linear, held-out R^2 = 0.99" in done.stdout
    ops = proxyless_space.str_to_ops((out / "genotype.txt").read_text().strip())
    state = read_search_checkpoint(out)
    assert state["derived"]["ops"] == list(ops)
    history = state["history"]
    assert "arch_loss" not in history[0] and 0 < history[1]["lambda_t"] <= 0.1
    assert np.isfinite(history[1]["arch_loss"]) and 0 <= history[1]["sample_feasible"] <= 1
    # phi moved away from uniform in the search epoch only
    logits = state["trainer"]["distribution"]["logits"]
    assert logits.abs().max() > 0
    # the env's space reads it back; its table latency is what the run reported
    assert load_lut("pixel1").latency(ops) == pytest.approx(state["derived"]["latency_ms"])


def test_kill_and_resume_matches_uninterrupted_run(tmp_path):
    root = make_tiny_cifar(tmp_path / "data", per_class=6)  # D_T 54 images: 6 steps of 8
    epochs = 5
    full = subprocess.Popen(
        _cli(tmp_path / "full", root, epochs, "--warmup-epochs", "1"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    killed = subprocess.Popen(
        _cli(tmp_path / "killed", root, epochs, "--warmup-epochs", "1"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ckpt = tmp_path / "killed" / "last.pt"
    deadline = time.monotonic() + 300
    while not ckpt.exists() and killed.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    stopped_at = read_search_checkpoint(ckpt)["epoch"]
    assert 1 <= stopped_at < epochs

    resumed = subprocess.run(
        _cli(tmp_path / "killed", root, epochs, "--warmup-epochs", "1"),
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {ckpt} at epoch {stopped_at}/{epochs}" in resumed.stdout
    assert full.wait(timeout=300) == 0, full.stdout.read().decode()

    a, b = read_search_checkpoint(tmp_path / "full"), read_search_checkpoint(ckpt)
    assert a["epoch"] == b["epoch"] == epochs
    for part in ("supernet", "distribution"):
        for name, tensor in a["trainer"][part].items():
            assert torch.equal(tensor, b["trainer"][part][name]), (part, name)
    for part in ("w_optimizer", "arch_optimizer"):
        for pid, st in a["trainer"][part]["state"].items():
            for key, value in st.items():
                assert torch.equal(
                    torch.as_tensor(value), torch.as_tensor(b["trainer"][part]["state"][pid][key])
                )
    assert a["history"] == b["history"]
    genotype = (tmp_path / "killed" / "genotype.txt").read_text().strip()
    assert genotype == (tmp_path / "full" / "genotype.txt").read_text().strip()
    # what train-genotype and the environments read
    alpha_d = darts_space.from_genotype(darts_space.str_to_genotype(genotype))
    assert alpha_d.sum() == 16
