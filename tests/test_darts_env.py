"""DARTSSupernet-v0 on a tiny CIFAR written in the official format (C=4, 3 cells, 8x8 images)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

import nas_gym  # noqa: F401  (registers the environments)
from nas_gym.envs.darts import DARTSSupernetEnv
from nas_gym.envs.pareto import ParetoFront
from nas_gym.spaces import darts as space
from nas_gym.spaces.darts import sample_path as sample_darts_path
from nas_gym.supernets import datasets as ds
from nas_gym.supernets.darts import DARTSSupernet
from nas_gym.supernets.darts_eval import params_and_flops
from nas_gym.supernets.pretrain import (
    CheckpointMismatchError,
    PretrainConfig,
    init_parameters,
    pretrain_supernet,
    read_checkpoint,
)
from nas_gym.supernets.pretrain import darts_fingerprint as pretrain_fingerprint
from tests.test_datasets import make_tiny_cifar

torch.set_num_threads(1)

_TINY_NET = {"C": 4, "num_cells": 3}


def tiny_darts_kwargs(root: Path, **overrides: Any) -> dict[str, Any]:
    """A parallel-mode configuration that steps in well under a second on one CPU core."""
    make_tiny_cifar(root)
    kwargs = {
        "root": str(root),
        "verify_data": False,
        "resolution": 8,
        **_TINY_NET,
        "batch_size": 8,
        "train_batches": 2,
        "valid_batches": 2,
        "warmup_steps": 2,
        "eval_channels": 4,
        "eval_cells": 3,
        "top_k": 4,
        "max_queries": 20,
    }
    kwargs.update(overrides)
    return kwargs


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return make_tiny_cifar(tmp_path_factory.mktemp("cifar"))


@pytest.fixture(scope="module")
def checkpoint(tiny_root, tmp_path_factory) -> Path:
    """A uniformly pre-trained tiny supernet, as `nas-gym supernet pretrain` writes it."""
    train = ds.load_image_dataset(
        "cifar10", tiny_root, True, ds.cifar_transforms(False, resolution=8), verify=False
    )
    d_t, _ = ds.split_train(train, 0.5, 0)
    net = init_parameters(DARTSSupernet(**_TINY_NET), seed=0)
    fp = pretrain_fingerprint(net.config, False, "cifar10", 8, 0.5, 0)
    config = PretrainConfig(epochs=2, batch_size=8, pad=1, flip=True)
    return pretrain_supernet(
        net,
        sample_darts_path,
        ds.make_loader(d_t, 8, True, 0),
        config,
        tmp_path_factory.mktemp("ck"),
        fp,
        progress=False,
    )


def _seq_kwargs(root: Path, checkpoint: Path, **overrides: Any) -> dict[str, Any]:
    kw = tiny_darts_kwargs(root, mode="sequential", checkpoint=str(checkpoint))
    for key in ("train_batches", "warmup_steps"):
        kw.pop(key)
    kw.update(overrides)
    return kw


def _actions(n: int, seed: int, shape=space.SHAPE) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.random(shape, dtype=np.float32) for _ in range(n)]


def test_sequential_mode_passes_both_checkers(tiny_root, checkpoint):
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("DARTSSupernet-v0", **_seq_kwargs(tiny_root, checkpoint))
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(env.unwrapped, warn=False)
    pickle.loads(pickle.dumps(env.unwrapped))


def test_ddas_reward_is_equation_3_3(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    obs, info = env.reset(seed=0)
    assert not obs.any() and env.observation == "last"
    os_acc, prev_loss = info["os_valid_acc"], info["os_valid_loss"]
    for action in _actions(4, 1):
        obs, reward, _, _, info = env.step(action)
        expected = 0.5 * (info["valid_acc"] - os_acc) / 100 + 0.5 * (prev_loss - info["valid_loss"])
        assert reward == pytest.approx(expected, abs=1e-12)
        np.testing.assert_array_equal(obs, space.discretize(action))
        prev_loss = info["valid_loss"]


def test_parallel_step_trains_only_the_chosen_path(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    env.reset(seed=0)
    net = env._net
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    action = _actions(1, 2)[0]
    env.step(action)
    on_path = {id(p) for p in net.path_parameters(space.discretize(action))}
    changed = {n for n, p in net.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(id(dict(net.named_parameters())[n]) in on_path for n in changed)
    # reset restores the warmed-up weights: the same seed and action give the same step
    env.reset(seed=0)
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n]), n


def test_uniform_warmup_reports_mean_path_accuracy(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, warmup="uniform", os_samples=3))
    _, info = env.reset(seed=0)
    rng = np.random.default_rng(env.seed + 3)
    scores = [env._score(sample_darts_path(rng)) for _ in range(3)]
    assert info["os_valid_acc"] == pytest.approx(np.mean([s[0] for s in scores]))
    assert info["os_valid_loss"] == pytest.approx(np.mean([s[1] for s in scores]))


def test_sequential_scores_frozen_supernet_with_cadam_reward_and_topk(tiny_root, checkpoint):
    env = DARTSSupernetEnv(**_seq_kwargs(tiny_root, checkpoint, top_k=3))
    weights = {n: t.clone() for n, t in env._net.state_dict().items()}
    env.reset(seed=0)
    actions = _actions(6, 3)
    infos = []
    for action in actions + actions[:2]:  # repeats score identically (frozen, cached)
        obs, reward, _, _, info = env.step(action)
        assert reward == pytest.approx(100 ** (info["valid_acc"] / 100))
        infos.append(info)
    assert [i["valid_acc"] for i in infos[6:]] == [i["valid_acc"] for i in infos[:2]]
    assert infos[-1]["n_unique_queries"] == 6 and infos[-1]["n_queries"] == 8
    for n, t in env._net.state_dict().items():
        assert torch.equal(t, weights[n]), n
    # top-K state by brute force: mean alpha_d of the 3 best distinct architectures (first seen wins ties)
    firsts = {}
    for i, (a, info) in enumerate(zip(actions, infos, strict=False)):
        firsts.setdefault(info["genotype"], (info["valid_acc"], -i, space.discretize(a)))
    best = sorted(firsts.values(), key=lambda t: (t[0], t[1]), reverse=True)[:3]
    np.testing.assert_allclose(obs, sum(b[2] for b in best) / 3, atol=1e-6)
    # the frozen scores equal a direct evaluation of the checkpoint
    fresh = DARTSSupernetEnv(**_seq_kwargs(tiny_root, checkpoint, valid_batches=2))
    assert fresh._score(space.discretize(actions[0])) == (
        infos[0]["valid_acc"],
        infos[0]["valid_loss"],
    )


def test_batchnorm_choices_use_path_statistics_and_restore_buffers(tiny_root, checkpoint):
    alpha_d = space.discretize(_actions(1, 4)[0])
    for bn in ("batch", "recalibrate"):
        env = DARTSSupernetEnv(**_seq_kwargs(tiny_root, checkpoint, bn=bn, recalibrate_batches=2))
        buffers = {n: b.clone() for n, b in env._net.named_buffers()}
        score = env._score(alpha_d)
        for n, b in env._net.named_buffers():
            assert torch.equal(b, buffers[n]), f"{bn}: scoring changed buffer {n}"
        # stored running statistics do not enter the score: corrupt them and score again
        for m in env._net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.fill_(5.0)
                m.running_var.fill_(100.0)
        assert env._score(alpha_d) == score, bn
    # whereas plain eval mode with those corrupted statistics would give another result
    env._net.eval()
    with torch.no_grad():
        x, y = env._valid()[0]
        corrupted = torch.nn.functional.cross_entropy(env._net(x, alpha_d), y).item()
    assert corrupted != pytest.approx(score[1])


def test_info_costs_best_and_pareto_front(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    env.reset(seed=5)
    history = []
    for action in _actions(6, 6):
        _, _, _, _, info = env.step(action)
        history.append(info)
        g = space.str_to_genotype(info["genotype"])
        assert space.genotype_to_str(g) == info["genotype"]
        assert (info["params_M"], info["flops_M"]) == params_and_flops(
            g, C=4, layers=3, num_classes=10, input_size=8
        )
    best = max(history, key=lambda i: i["valid_acc"])  # first of equal accuracies
    assert history[-1]["best_valid_acc"] == best["valid_acc"]
    assert history[-1]["best_genotype"] == best["genotype"]
    for cost in ("flops", "params"):
        brute = ParetoFront()
        for i in history:
            brute.add(i["genotype"], i["valid_acc"], i[f"{cost}_M"])
        points = [p for p in brute.points()]
        assert history[-1][f"pareto_{cost}"] == tuple((p["cost"], p["value"]) for p in points)
        front = env.pareto_front(cost)
        assert [f["genotype"] for f in front] == [p["key"] for p in points]
        # nothing sampled dominates a front member
        for f in front:
            assert not any(
                i["valid_acc"] >= f["valid_acc"]
                and i[f"{cost}_M"] <= f[f"{cost}_M"]
                and (i["valid_acc"], i[f"{cost}_M"]) != (f["valid_acc"], f[f"{cost}_M"])
                for i in history
            )


def test_pareto_front_semantics():
    front = ParetoFront()
    assert front.add("a", 50, 10) and front.add("b", 60, 20)
    assert not front.add("c", 40, 15)  # dominated by a
    assert front.add("d", 70, 10)  # dominates a and b
    assert [p["key"] for p in front.points()] == ["d"]
    assert front.add("d", 65, 10) and front.points()[0]["value"] == 70  # a key keeps its best value
    assert front.add("e", 80, 30) and front.compact() == ((10.0, 70.0), (30.0, 80.0))


def test_cli_plots_pareto_png_from_history(tiny_root, tmp_path, capsys):
    from nas_gym.cli import main

    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    env.reset(seed=0)
    keep = ("genotype", "valid_acc", "flops_M", "params_M")
    history = [{k: env.step(a)[4][k] for k in keep} for a in _actions(5, 7)]
    (tmp_path / "run.json").write_text(json.dumps({"history": history}))
    assert (
        main(["supernet", "pareto", str(tmp_path / "run.json"), "--out", str(tmp_path / "p.png")])
        == 0
    )
    png = (tmp_path / "p.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    out = capsys.readouterr().out
    assert "valid_acc vs flops_M" in out and "valid_acc vs params_M" in out
    # the column layout of `nas-gym bench` histories gives the same fronts
    columns = {k: [h[k] for h in history] for k in keep}
    (tmp_path / "cols.json").write_text(json.dumps({"spec": {}, "history": columns}))
    assert (
        main(["supernet", "pareto", str(tmp_path / "cols.json"), "--out", str(tmp_path / "c.png")])
        == 0
    )
    assert capsys.readouterr().out.split("wrote")[0] == out.split("wrote")[0]
    (tmp_path / "bad.json").write_text(json.dumps([{"valid_acc": 1.0}]))
    assert (
        main(["supernet", "pareto", str(tmp_path / "bad.json"), "--out", str(tmp_path / "q.png")])
        == 2
    )


def test_checkpoint_for_another_config_is_refused(tiny_root, checkpoint):
    with pytest.raises(CheckpointMismatchError, match=r"num_cells': 3.*num_cells': 4"):
        DARTSSupernetEnv(**_seq_kwargs(tiny_root, checkpoint, num_cells=4))
    with pytest.raises(CheckpointMismatchError, match="split_seed: checkpoint has 0, expected 1"):
        DARTSSupernetEnv(**_seq_kwargs(tiny_root, checkpoint, split_seed=1))
    # a uniformly pre-trained supernet is not a mixed warm-up
    with pytest.raises(
        CheckpointMismatchError, match="sampling: checkpoint has 'uniform', expected 'mixed'"
    ):
        DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, checkpoint=str(checkpoint)))
    env = DARTSSupernetEnv(
        **tiny_darts_kwargs(tiny_root, checkpoint=str(checkpoint), warmup="uniform")
    )
    saved = read_checkpoint(checkpoint)["model"]  # accepted: the env starts from its weights
    for name, tensor in env._net.state_dict().items():
        assert torch.equal(tensor.cpu(), saved[name]), name
    assert 0.0 <= env.reset(seed=0)[1]["os_valid_acc"] <= 100.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "serial"}, "unknown mode 'serial'"),
        ({"mode": "sequential"}, "needs checkpoint=PATH"),
        (
            {"reward": "ddas", "mode": "sequential", "checkpoint": "x"},
            "unknown reward for mode 'sequential' 'ddas'",
        ),
        ({"bn": "eval"}, "unknown bn 'eval'"),
        ({"warmup": "none"}, "unknown warmup 'none'"),
        ({"dataset": "mnist"}, "unknown dataset 'mnist'"),
        ({"train_batches": 0}, "train_batches must be a positive integer"),
        ({"device": "cuda:7"}, "cuda:7"),
        ({"lr": -1.0}, "lr must be"),
        ({"select_none": True}, "select_none=True needs the 8-op layout"),
        ({"warmup_epochs": 1}, "warmup_steps .* or warmup_epochs .*, not both"),
        ({"cost_network": "supernet"}, "unknown cost_network 'supernet'"),
        ({"cost_network": "search"}, "cost_network='search'.*one or the other"),
    ],
)
def test_bad_arguments(tiny_root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, **kwargs))


def test_with_none_layout_never_selects_none(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, with_none=True))
    assert env.action_space.shape == (2, 14, 8)
    env.reset(seed=0)
    action = _actions(1, 8, (2, 14, 8))[0]
    action[:, :, 0] = 10.0  # 'none' largest everywhere
    obs, *_, info = env.step(action)
    assert obs[:, :, 0].sum() == 0 and obs.sum() == 16 and "none" not in info["genotype"]


def test_ddas_cells_select_none_end_to_end(tiny_root):
    """select_none: Algorithm 2 picks 'none', its edge adds zeros, the eval network builds it."""
    from nas_gym.agents.ddas import DDAS
    from nas_gym.supernets.darts import NONE_OP, path_from_alpha_d
    from nas_gym.supernets.darts_eval import DARTSEvalNetwork

    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, with_none=True, select_none=True))
    assert env.action_space.shape == (2, 14, 8) and env.op_mask.all()
    env.reset(seed=0)
    action = _actions(1, 8, (2, 14, 8))[0] * 0.5
    action[0, 0:2, 0] = 1.0  # 'none' largest on both edges of normal node 0
    obs, reward, *_, info = env.step(action)
    assert obs[0, 0:2, 0].tolist() == [1.0, 1.0] and obs.sum() == 16 and np.isfinite(reward)
    genotype = space.str_to_genotype(info["genotype"])
    assert genotype.normal[:2] == [("none", 0), ("none", 1)]
    assert space.cell_width(genotype.normal) <= 3.0
    # the supernet path: node 0 of every normal cell outputs exactly zeros
    path = path_from_alpha_d(obs)
    assert path[0][0] == ((0, NONE_OP), (1, NONE_OP))
    net = env.unwrapped._net
    cell = net.cells[0]
    x = torch.randn(2, net.stem[0].out_channels, 8, 8)
    with torch.no_grad():
        out = cell(x, x, path[0])
    c = out.shape[1] // space.N_NODES
    assert out[:, :c].abs().max() == 0 and out[:, c:].abs().max() > 0
    used = {id(p) for p in net.path_parameters(obs)}
    none_edges = {id(p) for e in (0, 1) for p in cell.edges[e].parameters()}
    assert none_edges and not used & none_edges  # a 'none' edge trains nothing
    # the evaluation network and its costs: 'none' has no parameters
    dense = info["genotype"].replace("('none', 0)", "('sep_conv_3x3', 0)")
    eval_net = DARTSEvalNetwork(info["genotype"], C=4, layers=3, num_classes=10)
    assert eval_net(torch.randn(2, 3, 8, 8))[0].shape == (2, 10)
    assert params_and_flops(info["genotype"], 4, 3, 10, 8) < params_and_flops(dense, 4, 3, 10, 8)
    # DDAS (its 4S phase reads the architecture from alpha_d) runs on this layout
    agent = DDAS("MlpPolicy", env, schedule="4s", explore_steps=2, exploit_steps=1, seed=0)
    agent.learn(total_timesteps=4)
    assert agent.num_timesteps == 4


def test_thesis_warmup_preset_and_search_network_costs(tiny_root, tmp_path):
    from nas_gym.envs.darts import DDAS_THESIS, THESIS_WARMUP_EPOCHS
    from nas_gym.envs.pareto import pareto_figure

    assert DDAS_THESIS["warmup_epochs"] == THESIS_WARMUP_EPOCHS == 75
    kwargs = tiny_darts_kwargs(tiny_root, **DDAS_THESIS)
    for key in ("warmup_steps", "eval_channels", "eval_cells"):
        kwargs.pop(key)
    env = DARTSSupernetEnv(**{**kwargs, "warmup_epochs": 0.5})
    # epochs are passes over D_T in minibatches: 0.5 x 30 images in batches of 8 -> 2
    assert len(env.task.d_train) == 30 and env.warmup_steps == 2
    assert env.select_none and env.with_none
    _, info = env.reset(seed=0)
    _, _, _, _, info = env.step(_actions(1, 3, (2, 14, 8))[0])
    # 'search' costs: a network of the supernet's own size (C=4, 3 cells), labelled so
    assert (info["params_M"], info["flops_M"]) == params_and_flops(info["genotype"], 4, 3, 10, 8)
    assert info["cost_network"] == "search network: C=4, 3 cells, 8x8 input"
    front = env.pareto_front("flops")
    assert front and all(p["cost_network"] == info["cost_network"] for p in front)
    fig = pareto_figure([info], cost_keys=("flops_M",))
    assert "search network: C=4, 3 cells" in fig.axes[0].get_xlabel()
    # the default labels the 20-cell-style evaluation network it measures on
    default = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    assert default.cost_network_label == "eval network: C=4, 3 cells, 8x8 input"
    assert DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, warmup_steps=None)).warmup_steps == 100


def test_missing_data_is_a_clear_error(tmp_path):
    from nas_gym.data import DataError

    with pytest.raises(DataError, match="cifar-10-batches-py.*download=True"):
        DARTSSupernetEnv(root=str(tmp_path))


@pytest.mark.parametrize("agent", ["ddas-nl", "td3"])
def test_parallel_end_to_end_with_agents(tiny_root, agent):
    from nas_gym.agents.registry import make_agent

    env = gym.make("DARTSSupernet-v0", **tiny_darts_kwargs(tiny_root, max_queries=8))
    overrides = (
        {"explore_steps": 3, "batch_size": 4}
        if agent == "ddas-nl"
        else {"learning_starts": 3, "batch_size": 4}
    )
    model = make_agent(agent, env, seed=0, **overrides)
    model.learn(total_timesteps=6)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    _, reward, _, _, info = env.step(action)
    assert np.isfinite(reward) and info["n_queries"] == 1


@pytest.mark.parametrize("agent", ["cadam", "td3"])
def test_sequential_end_to_end_with_agents(tiny_root, checkpoint, agent):
    from nas_gym.agents.registry import make_agent

    env = gym.make("DARTSSupernet-v0", **_seq_kwargs(tiny_root, checkpoint, max_queries=12))
    overrides = (
        {"warmup_steps": 4, "batch_size": 4}
        if agent == "cadam"
        else {"learning_starts": 4, "batch_size": 4}
    )
    name = "cadam-darts" if agent == "cadam" else agent
    model = make_agent(name, env, seed=0, **overrides)
    model.learn(total_timesteps=10)
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    _, reward, _, _, info = env.step(action)
    assert reward == pytest.approx(100 ** (info["valid_acc"] / 100))


def test_every_episode_starts_from_the_same_warmed_up_supernet(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root))
    action = _actions(1, 9)[0]
    runs = []
    for _ in range(3):  # the first reset also warms up; it must not shift the episode's data order
        env.reset(seed=4)
        runs.append(env.step(action)[1])
    assert runs[0] == runs[1] == runs[2]


def test_cli_mixed_warmup_checkpoint_feeds_parallel_mode(tiny_root, tmp_path):
    from nas_gym.cli import main

    args = ["supernet", "pretrain", "--sampling", "mixed", "--root", str(tiny_root), "--no-verify"]
    args += [
        "--resolution",
        "8",
        "--channels",
        "4",
        "--cells",
        "3",
        "--batch-size",
        "8",
        "--epochs",
        "1",
    ]
    assert main([*args, "--out", str(tmp_path / "warm"), "--no-progress"]) == 0
    kwargs = tiny_darts_kwargs(tiny_root, checkpoint=str(tmp_path / "warm" / "last.pt"))
    env = DARTSSupernetEnv(**kwargs)
    _, info = env.reset(seed=0)
    assert (info["os_valid_acc"], info["os_valid_loss"]) == env._score(None)
    # the same checkpoint cannot serve CADAM, whose supernet must be trained path by path
    with pytest.raises(
        CheckpointMismatchError, match="sampling: checkpoint has 'mixed', expected 'uniform'"
    ):
        DARTSSupernetEnv(**_seq_kwargs(tiny_root, tmp_path / "warm" / "last.pt"))


def test_pc_darts_partial_channels_option(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, pc_k=2))
    assert env._net.config["pc_k"] == 2 and env.fingerprint["supernet"]["pc_k"] == 2
    env.reset(seed=0)
    _, reward, *_ = env.step(_actions(1, 10)[0])
    assert np.isfinite(reward)


def test_constraint_on_flops_flags_infeasible_and_keeps_them_out_of_best(tiny_root):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, cost="flops", cost_target=1e-9))
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    _, reward, _, _, info = env.step(rng.random(env.action_space.shape, dtype=np.float32))
    assert info["feasible"] is False and reward == 0.0  # hard constraint, nothing fits 1e-9 M
    assert info["best_genotype"] == "" and info["best_feasible_genotype"] == ""
    loose = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, cost="params", cost_target=1e9))
    loose.reset(seed=0)
    info = loose.step(rng.random(loose.action_space.shape, dtype=np.float32))[4]
    assert info["feasible"] is True and info["best_feasible_cost"] == info["params_M"]
    with pytest.raises(ValueError, match="unknown cost 'latency'; allowed: 'flops', 'params'"):
        DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, cost="latency", cost_target=1.0))


def test_warm_up_shows_progress_on_stderr_unless_turned_off(tiny_root, capfd):
    env = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, warmup_steps=3))
    env.reset(seed=0)
    assert "warm-up" in capfd.readouterr().err
    quiet = DARTSSupernetEnv(**tiny_darts_kwargs(tiny_root, warmup_steps=3, progress=False))
    quiet.reset(seed=0)
    assert "warm-up" not in capfd.readouterr().err
