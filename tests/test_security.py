"""Loading a file the user only pointed us at never runs code from it (issue 9, sec. 1).

Each loader gets a file whose pickle, when loaded the unsafe way, creates a marker
file; the test asserts a clear error and that the marker never appears.
"""

from __future__ import annotations

import bz2
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from nas_gym.benchmarks import nats_import
from nas_gym.data import DataError
from nas_gym.safe_pickle import (
    UnsafePickleError,
    load_bz2_pickle,
    load_checkpoint,
    restricted_loads,
)
from nas_gym.spaces import nb201 as space


class _Payload:
    """Unpickling this calls ``exec``, which creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def _evil(marker: Path, wrap=None) -> bytes:
    obj = _Payload(marker) if wrap is None else wrap(_Payload(marker))
    return pickle.dumps(obj, protocol=2)


@pytest.fixture
def marker(tmp_path) -> Path:
    path = tmp_path / "PWNED"
    # the payload really runs when loaded the unsafe way: the tests below are not vacuous
    pickle.loads(_evil(path))
    assert path.exists()
    path.unlink()
    return path


def test_restricted_unpickler_admits_plain_data_only(marker):
    data = {"a": [1, 2.5, (3, None)], "b": {True, "x"}, "c": frozenset({b"raw"})}
    for protocol in range(0, pickle.HIGHEST_PROTOCOL + 1):
        assert restricted_loads(pickle.dumps(data, protocol=protocol)) == data
    with pytest.raises(UnsafePickleError, match="refused to load .*exec"):
        restricted_loads(_evil(marker, wrap=lambda p: {"nested": [p]}))
    assert not marker.exists()


def test_bz2_bomb_is_capped(tmp_path):
    path = tmp_path / "bomb.pickle.pbz2"
    path.write_bytes(bz2.compress(pickle.dumps(b"\0" * (4 * 2**20))))
    assert path.stat().st_size < 1000
    with pytest.raises(DataError, match="expands to more than 1048576 bytes"):
        load_bz2_pickle(path, max_bytes=2**20)
    assert len(load_bz2_pickle(path, max_bytes=8 * 2**20)) == 4 * 2**20


def _archive(tmp_path: Path, meta_bytes: bytes) -> Path:
    root = tmp_path / nats_import.ARCHIVE_NAME
    root.mkdir()
    (root / nats_import.META_FILE).write_bytes(bz2.compress(meta_bytes))
    return root


def test_import_nats_malicious_meta_file(tmp_path, marker):
    root = _archive(tmp_path, _evil(marker, wrap=lambda p: {"meta_archs": p}))
    (root / f"000000.{nats_import.PICKLE_EXT}").write_bytes(b"x")
    with pytest.raises(UnsafePickleError, match="meta.pickle.pbz2.*refused"):
        nats_import.import_nats(root, tmp_path / "out", allow_partial=True, progress=False)
    assert not marker.exists()


def test_import_nats_malicious_architecture_file(tmp_path, marker):
    meta = {"meta_archs": list(space.all_strs()), "total_archs": space.N_ARCHS}
    root = _archive(tmp_path, pickle.dumps(meta))
    evil = _evil(marker, wrap=lambda p: {"12": p, "200": {}})
    (root / f"000000.{nats_import.PICKLE_EXT}").write_bytes(bz2.compress(evil))
    with pytest.raises(UnsafePickleError, match="000000.pickle.pbz2.*refused"):
        nats_import.import_nats(root, tmp_path / "out", allow_partial=True, progress=False)
    assert not marker.exists()


def test_import_nats_cli_malicious_archive(tmp_path, marker, capsys):
    from nas_gym.cli import main

    root = _archive(tmp_path, _evil(marker))
    code = main(["data", "import-nats", str(root), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "exec: the file may only hold plain data" in capsys.readouterr().err
    assert not marker.exists()


def _torch_evil(path: Path, marker: Path) -> None:
    torch.save({"model": {"w": torch.zeros(2)}, "x": _Payload(marker)}, path)


def test_checkpoint_loader_refuses_code_with_our_message(tmp_path, marker):
    path = tmp_path / "evil.pt"
    _torch_evil(path, marker)
    with pytest.raises(DataError, match="corrupt or not a nas_gym checkpoint") as info:
        load_checkpoint(path)
    assert "weights_only=False" not in str(info.value)
    assert not marker.exists()
    good = tmp_path / "good.pt"
    torch.save({"model": {"w": torch.ones(2)}, "epoch": 3}, good)
    junk = {  # each fails in a different place of torch's readers
        "text.pt": b"not a checkpoint",
        "four.pt": b"junk",  # struct.error in the legacy format's header
        "empty.pt": b"",
        "random.pt": np.random.default_rng(0).bytes(1000),
        "truncated.pt": good.read_bytes()[:200],
    }
    for name, data in junk.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(DataError, match="corrupt or not a nas_gym checkpoint"):
            load_checkpoint(tmp_path / name)
    assert load_checkpoint(good)["epoch"] == 3


def test_supernet_checkpoint_malicious_and_nan(tmp_path, marker):
    from nas_gym.supernets import pretrain

    path = tmp_path / "last.pt"
    _torch_evil(path, marker)
    with pytest.raises(DataError, match="corrupt or not a nas_gym checkpoint"):
        pretrain.read_checkpoint(path)
    assert not marker.exists()
    nan = {"format": pretrain.CHECKPOINT_FORMAT, "model": {"w": torch.tensor([1.0, float("nan")])}}
    torch.save(nan, path)
    with pytest.raises(pretrain.CheckpointMismatchError, match="NaN or infinite weights \\(w\\)"):
        pretrain.read_checkpoint(path)


def test_cifar_batch_with_code_is_refused_even_without_verify(tmp_path, marker):
    from nas_gym.supernets import datasets as ds
    from tests.test_datasets import make_tiny_cifar

    make_tiny_cifar(tmp_path, per_class=1, n_test=2)
    assert len(ds.load_image_dataset("cifar10", tmp_path, True, verify=False)) == 10
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(_evil(marker, wrap=lambda p: {"data": p, "labels": []}))
    with pytest.raises(DataError, match="data_batch_1.*exec: the file may only hold plain data"):
        ds.load_image_dataset("cifar10", tmp_path, True, verify=False)
    assert not marker.exists()


def test_train_genotype_resume_never_runs_the_checkpoint(tmp_path, marker, capsys):
    from nas_gym.cli import main
    from tests.test_datasets import make_tiny_cifar

    make_tiny_cifar(tmp_path / "data", per_class=1, n_test=2)
    out = tmp_path / "run"
    out.mkdir()
    _torch_evil(out / "checkpoint.pt", marker)
    args = ["train-genotype", "DARTS_V2", "--root", str(tmp_path / "data"), "--no-verify"]
    args += ["--layers", "3", "--channels", "2", "--batch-size", "4", "--out", str(out)]
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "corrupt or not a nas_gym checkpoint" in err and "weights_only=False" not in err
    assert not marker.exists()


def test_agent_files_have_a_safe_path_set_parameters(tmp_path, marker):
    """SB3-format ``.load()`` deserialises classes (runs code, documented in docs/agents.md);
    ``set_parameters`` on an agent built by the user reads only tensors, never the data."""
    import base64
    import json
    import zipfile

    import cloudpickle
    import gymnasium as gym

    from nas_gym.agents.cadam import CADAM

    env = gym.make("NASBench201-v0", max_queries=5)
    agent = CADAM(env=env, seed=1, net_arch=(8,))
    path = tmp_path / "agent.zip"
    agent.save(path)
    poisoned = tmp_path / "poisoned.zip"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(poisoned, "w") as dst:
        for item in src.namelist():
            payload = src.read(item)
            if item == "data":
                data = json.loads(payload)
                blob = base64.b64encode(cloudpickle.dumps(_Payload(marker))).decode()
                data["action_noise"] = {":type:": "<class 'object'>", ":serialized:": blob}
                payload = json.dumps(data).encode()
            dst.writestr(item, payload)
    fresh = CADAM(env=env, seed=2, net_arch=(8,))
    fresh.set_parameters(str(poisoned))
    assert not marker.exists()
    for (name, a), b in zip(
        agent.policy.state_dict().items(), fresh.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    env.close()
