"""The pairing and report helpers of ``benchmarks/digits_td3_vs_ddpg.py`` on small inputs."""

from __future__ import annotations

import math

import pytest

from tests.scripts import load_script


@pytest.fixture(scope="module")
def bench():
    return load_script("benchmarks/digits_td3_vs_ddpg.py")


def test_first_divergence(bench):
    assert bench.first_divergence(["a", "b", "c"], ["a", "b", "c"]) is None
    assert bench.first_divergence(["a", "b", "c"], ["a", "x", "c"]) == 2
    assert bench.first_divergence(["x"], ["y"]) == 1
    assert bench.first_divergence(["a", "b"], ["a", "b", "c"]) == 3  # one run is longer


def test_paired_summary_signs_ties_and_power(bench):
    s = bench.paired_summary([1.0, 2.0, 3.0, 4.0, 5.0], [1.5, 3.0, 4.5, 6.0, 7.5])
    assert s["diff_mean"] == pytest.approx(1.5)
    assert (s["td3_wins"], s["ties"], s["n_nonzero"]) == (5, 0, 5)
    # five distinct differences of one sign: the smallest exact p five pairs give, > 0.05
    assert s["wilcoxon_p"] == pytest.approx(bench.min_wilcoxon_p(5)) == pytest.approx(0.0625)
    assert 0.5 <= s["diff_low"] < 1.5 < s["diff_high"] <= 2.5
    same = bench.paired_summary([1.0, 2.0], [1.0, 2.0])
    assert math.isnan(same["wilcoxon_p"]) and same["ties"] == 2
    with pytest.raises(ValueError, match="equal length"):
        bench.paired_summary([1.0], [1.0, 2.0])


def _run(genotypes, score, accs):
    return {
        "best_genotype": genotypes[-1],
        "genotypes": genotypes,
        "valid_acc": [10.0] * len(genotypes),
        "supernet_score": score,
        "standalone_acc": accs,
    }


def test_analyse_and_markdown_pair_by_seed(bench):
    runs = {
        "CADAM": {
            "1": _run(["a", "b", "c"], 40.0, [70.0, 72.0]),
            "2": _run(["a", "d"], 30.0, [60.0, 64.0]),
        },
        "CADAM-TD3": {
            "1": _run(["a", "b", "c"], 40.0, [70.0, 72.0]),
            "2": _run(["a", "e"], 35.0, [66.0, 70.0]),
            "3": _run(["z"], 1.0, [1.0, 1.0]),  # no CADAM twin: left out of the pair
        },
    }
    summary = {
        "config": {"seeds": 2},
        "runs": runs,
        "cpu_seconds": {"pretrain": None, "search": 12.0},
    }
    (pair,) = bench.analyse(summary)  # DDAS pairs did not run: no entry
    assert (pair["ddpg"], pair["td3"]) == ("CADAM", "CADAM-TD3")
    assert [r["seed"] for r in pair["rows"]] == [1, 2]
    r1, r2 = pair["rows"]
    assert r1["diverge"] is None and r1["same_cell"]
    assert r2["diverge"] == 2 and r2["n_differ"] == 1 and not r2["same_cell"]
    assert r2["acc"] == (62.0, 68.0) and r2["unique"] == (2, 2)
    assert pair["acc"]["diff_mean"] == pytest.approx(3.0)
    text = bench.markdown(summary, [pair])
    assert (
        "| 1 | 40.00 / 40.00 | 71.00 ± 1.41 | 71.00 ± 1.41 | 3 / 3 | identical; same best cell |"
        in text
    )
    assert "first differ at query 2; 1 of 2 queries differ" in text
    assert (
        "| stand-alone test accuracy (%) | 66.50 | 69.50 | +3.00 [+0.00, +6.00] | 1 higher, 1 equal, 0 lower |"
        in text
    )
    assert "**12** (0.2 CPU-min)" in text


def test_bad_agent_is_named_with_the_allowed_ones(bench, capsys):
    with pytest.raises(SystemExit):
        bench.main(["--out", "unused", "--agents", "CADAM,PPO"])
    err = capsys.readouterr().err
    assert "PPO" in err and "CADAM-TD3" in err and "DDAS-TD3" in err


@pytest.mark.parametrize("bad", ["0", "-5", "abc", "2.5"])
def test_bad_cadam_queries_is_named_before_any_work(bench, capsys, tmp_path, bad):
    with pytest.raises(SystemExit):
        bench.main(["--out", str(tmp_path / "out"), "--size", "smoke", "--cadam-queries", bad])
    err = capsys.readouterr().err
    assert "--cadam-queries" in err and repr(bad) in err and ">= 1" in err
    assert not (tmp_path / "out").exists()


def test_budget_is_recorded_and_a_different_one_is_refused(bench, capsys, tmp_path):
    out = tmp_path / "study"
    out.mkdir()
    # the config.json a --size smoke --cadam-queries 9 run writes first (run_study)
    config = bench.study_config("smoke", 9)
    assert config["queries"] == 9 and bench.study_size("smoke", 9)["queries"] == 9
    assert bench.study_config("smoke")["queries"] == bench.study.SIZES["smoke"]["queries"] == 6
    bench.study.write_json(out / "config.json", config)
    bench.check_inputs(out, "smoke", None, 9)  # same budget: resumes
    for argv in (["--cadam-queries", "12"], []):  # another budget, or the default (6)
        with pytest.raises(SystemExit):
            bench.main(["--out", str(out), "--size", "smoke", *argv])
        err = capsys.readouterr().err
        asked = argv[1] if argv else "6"
        assert f"run with --cadam-queries 9, not {asked}" in err, err
    assert sorted(p.name for p in out.iterdir()) == ["config.json"]  # nothing else ran
    assert bench.figure_name(config) == "td3_vs_ddpg_digits_q9.png"
    assert bench.figure_name(bench.study_config("full")) == "td3_vs_ddpg_digits.png"


def test_actor_query_log_matches_the_actions_and_changes_nothing(bench):
    """Logged actor queries are mu(s) + U(-xi, xi); logged random ones are not; the same
    seed sends the same actions with and without the log."""
    import gymnasium as gym
    import numpy as np
    from stable_baselines3.common.callbacks import BaseCallback

    from nas_gym.agents.cadam import CADAM

    class Actions(BaseCallback):
        def __init__(self):
            super().__init__()
            self.sent: list[np.ndarray] = []

        def _on_step(self) -> bool:
            self.sent.append(np.array(self.locals["actions"]))
            return True

    def run(with_log: bool):
        env = gym.make("NASBench201-v0", max_queries=40)
        agent = CADAM(env=env, seed=3, epsilon_decay_steps=30, epsilon_end=0.0, net_arch=(16,))
        off_actor, original = [], agent._sample_action

        def spy(*args, **kwargs):  # distance of the sent action from the actor's mu(s)
            mu, _ = agent.predict(agent._last_obs, deterministic=True)
            action, buffer_action = original(*args, **kwargs)
            off_actor.append(float(np.abs(action - mu).max()))
            return action, buffer_action

        agent._sample_action = spy
        log = bench.ActorQueryLog(agent) if with_log else None
        callback = Actions()
        agent.learn(40, callback=callback)
        return callback.sent, off_actor, log, agent.xi

    sent, off_actor, log, xi = run(True)
    sent_plain, _, _, _ = run(False)
    assert all(np.array_equal(a, b) for a, b in zip(sent, sent_plain, strict=True))
    assert len(log.from_actor) == 40
    assert log.from_actor == [d <= xi + 1e-6 for d in off_actor]
    assert not log.from_actor[0] and all(log.from_actor[30:])  # epsilon 1, then 0
    assert 0 < sum(log.from_actor[1:30]) < 29  # both kinds while epsilon decays


def test_actor_chosen_queries_are_reported_when_logged(bench):
    a, b = _run(["a", "b", "c"], 40.0, [70.0, 72.0]), _run(["a", "b", "d"], 41.0, [71.0, 73.0])
    a["from_actor"], b["from_actor"] = [False, True, True], [False, False, True]
    summary = {"config": {"seeds": 2}, "runs": {"CADAM": {"1": a}, "CADAM-TD3": {"1": b}}}
    summary["cpu_seconds"] = {"search": 1.0}
    (pair,) = bench.analyse(summary)
    assert pair["rows"][0]["actor"] == (2, 1)
    text = bench.markdown(summary, [pair])
    assert "| actor-chosen queries CADAM / CADAM-TD3 |" in text
    assert "| 3 / 3 | 2 / 1 | first differ at query 3" in text
    del a["from_actor"]  # a run without the log (DDAS, or a study made before it)
    (pair,) = bench.analyse(summary)
    assert pair["rows"][0]["actor"] is None and "actor-chosen" not in bench.markdown(
        summary, [pair]
    )


def test_window_means_split_actor_and_random_queries(bench):
    runs = [
        {
            "valid_acc": [10.0, 20.0, 30.0, 40.0, 50.0],
            "from_actor": [False, True, True, False, True],
        },
        {
            "valid_acc": [12.0, 22.0, 32.0, 42.0, 52.0],
            "from_actor": [False, False, True, True, True],
        },
    ]
    x, y, k = bench.window_means(runs, True, 2)
    assert x.tolist() == [1.5, 3.5, 5.0] and k.tolist() == [1, 3, 2]
    assert y.tolist() == pytest.approx([20.0, (30.0 + 32.0 + 42.0) / 3, 51.0])
    x, y, k = bench.window_means(runs, False, 2)
    assert k.tolist() == [3, 1, 0] and y[0] == 44.0 / 3 and math.isnan(y[2])
    split = bench.actor_vs_random(runs[0])
    assert split == {"actor_mean": 100.0 / 3, "random_mean": 25.0, "best_from_actor": True}


def test_mean_pct_skips_runs_without_such_queries_and_says_none(bench):
    assert bench.mean_pct([30.0, 32.0]) == "31.00 %"
    assert bench.mean_pct([30.0, math.nan]) == "30.00 % (the 1 runs that made one)"
    assert bench.mean_pct([math.nan, math.nan]) == "none (no run made such a query)"
