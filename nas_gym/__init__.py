"""nas_gym: neural architecture search as Gymnasium environments.

``import nas_gym`` registers the environments; it does not import torch. Every id is
registered twice: plain (``gym.make("NASBench201-v0")``) and in the ``nas_gym``
namespace (``gym.make("nas_gym/NASBench201-v0")``), which is the section
``gymnasium.pprint_registry()`` lists them under. The README's environment table
documents every id.
"""

from __future__ import annotations

from typing import Any

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

NAMESPACE = "nas_gym"

#: Environment ids this package registers, with their entry points.
ENVIRONMENTS: dict[str, str] = {
    "NASBench201-v0": "nas_gym.envs.nb201:NASBench201Env",
    "DARTSSupernet-v0": "nas_gym.envs.darts:DARTSSupernetEnv",
    "ProxylessNAS-v0": "nas_gym.envs.proxyless:ProxylessNASEnv",
}

#: Registered variants (as Gymnasium's ``LunarLanderContinuous-v3``): id -> (base id,
#: the keyword arguments it fixes). Keyword arguments given to ``gym.make`` override them.
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # DDAS (Mills 2020, Ch. 3): supernet trained while searching, "last" state, Eq. 3.3.
    "DARTSSupernet-DDAS-v0": (
        "DARTSSupernet-v0",
        {
            "mode": "parallel",
            "num_cells": 6,
            "batch_size": 64,
            "reward": "ddas",
            "observation": "last",
        },
    ),
    # CADAM (Mills 2020, Ch. 4): frozen pre-trained supernet (checkpoint=), top-K state, Eq. 4.1.
    "DARTSSupernet-CADAM-v0": (
        "DARTSSupernet-v0",
        {
            "mode": "sequential",
            "num_cells": 8,
            "batch_size": 250,
            "reward": "cadam",
            "observation": "topk",
        },
    ),
}


def _register(env_id: str, entry_point: str, kwargs: dict[str, Any]) -> None:
    for name in (env_id, f"{NAMESPACE}/{env_id}"):
        if name not in registry:
            register(id=name, entry_point=entry_point, kwargs=dict(kwargs))


def _register_all() -> None:
    for env_id, entry_point in ENVIRONMENTS.items():
        _register(env_id, entry_point, {})
    for env_id, (base, kwargs) in VARIANTS.items():
        _register(env_id, ENVIRONMENTS[base], kwargs)


_register_all()

__all__ = ["ENVIRONMENTS", "NAMESPACE", "VARIANTS", "__version__"]
