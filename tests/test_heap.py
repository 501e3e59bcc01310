"""release_free_heap: freed heap pages go back to the OS; a batched run calls it as it goes."""

from __future__ import annotations

import ctypes

import gymnasium as gym
import pytest

import nas_gym  # noqa: F401
from nas_gym.agents.cadam import batched as batched_module
from nas_gym.agents.cadam.batched import BatchedCADAM
from nas_gym.agents.common.heap import _malloc_trim, release_free_heap

glibc = pytest.mark.skipif(_malloc_trim() is None, reason="malloc_trim is glibc's")


def resident_mb() -> float:
    with open("/proc/self/status") as fh:
        kb = next(int(line.split()[1]) for line in fh if line.startswith("VmRSS"))
    return kb / 1024


@glibc
def test_free_chunks_pinned_inside_the_heap_are_given_back():
    """2,048 chunks of 64 KB (below glibc's mmap threshold, so on the heap); every other
    one is freed, so each freed chunk lies between two live ones and free() cannot give
    its pages back. release_free_heap must return most of those 64 MB."""
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    chunk, n = 64 * 1024, 2048
    chunks = []
    for _ in range(n):
        p = libc.malloc(chunk)
        ctypes.memset(p, 1, chunk)  # resident
        chunks.append(p)
    try:
        for p in chunks[0::2]:
            libc.free(p)
        before = resident_mb()
        assert release_free_heap() is True
        after = resident_mb()
    finally:
        for p in chunks[1::2]:
            libc.free(p)
    freed_mb = chunk * (n // 2) / 2**20
    assert before - after > 0.5 * freed_mb, (before, after)


def test_a_batched_run_releases_the_heap_every_so_many_steps(monkeypatch):
    agent_steps = []

    def counting() -> bool:
        agent_steps.append(batched.agents[0].num_timesteps)
        return release_free_heap()

    monkeypatch.setattr(batched_module, "TRIM_EVERY_STEPS", 4)
    monkeypatch.setattr(batched_module, "release_free_heap", counting)
    seeds = [1, 2]
    batched = BatchedCADAM(
        [gym.make("NASBench201-v0", max_queries=10) for _ in seeds], seeds, net_arch=(8,)
    )
    batched.learn(10)
    assert agent_steps == [4, 8]
