"""ProxyTask: the D_T/D_V split, fixed batches, pickling by reference."""

from __future__ import annotations

import pickle

import torch

from nas_gym.supernets.proxy_task import ProxyTask
from tests.test_proxyless_env import write_tiny_cifar10


def test_split_batches_and_pickle_by_reference(tmp_path):
    write_tiny_cifar10(tmp_path)
    task = ProxyTask("cifar10", tmp_path, verify=False, resolution=8, split_seed=3)
    assert len(task.d_train) == len(task.d_valid) == 20  # 40 images, half each
    assert set(task.d_train.indices).isdisjoint(task.d_valid.indices)
    valid = task.fixed_batches("valid", 8, 2)
    assert [len(y) for _, y in valid] == [8, 8] and valid[0][0].shape == (8, 3, 8, 8)
    assert task.fixed_batches("valid", 8, 2) is valid  # built once
    other_salt = task.fixed_batches("valid", 8, 2, salt=2)
    assert not torch.equal(valid[0][1], other_salt[0][1]) or not torch.equal(
        valid[0][0], other_salt[0][0]
    )

    blob = pickle.dumps(task)
    assert len(blob) < 2_000  # arguments only: no images, no cached batches
    clone = pickle.loads(blob)
    assert clone.d_valid.indices == task.d_valid.indices
    for (x_a, y_a), (x_b, y_b) in zip(clone.fixed_batches("valid", 8, 2), valid, strict=True):
        assert torch.equal(x_a, x_b) and torch.equal(y_a, y_b)
