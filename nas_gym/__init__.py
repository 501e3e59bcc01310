"""nas_gym: neural architecture search as Gymnasium environments.

``import nas_gym`` registers the environments; it does not import torch. Every id is
registered twice: plain (``gym.make("NASBench201-v0")``) and in the ``nas_gym``
namespace (``gym.make("nas_gym/NASBench201-v0")``), which is the section
``gymnasium.pprint_registry()`` lists them under. The README's environment table
documents every id.

Versions (Gymnasium's convention: a changed space is a new version): ``-v1`` ids have
flat ``Box((rows*ops,))`` action and observation spaces (the row-major alpha layout,
``env.unwrapped.alpha_shape`` keeps the matrix shape) and are the recommended ids, as
clients such as rl-zoo and CleanRL assume 1-D vectors; ``-v0`` ids keep the matrix
spaces unchanged.
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

#: Version -> the keyword arguments it fixes on top of the ``-v0`` entry point.
VERSIONS: dict[str, dict[str, Any]] = {"v0": {}, "v1": {"flat": True}}

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


#: Native vector environments (``gym.make_vec(id, vectorization_mode="vector_entry_point")``).
VECTOR_ENTRY_POINTS: dict[str, str] = {
    "NASBench201-v0": "nas_gym.envs.nb201_vector:NASBench201VectorEnv",
}


def versioned(env_id: str, version: str) -> str:
    """``"NASBench201-v0"`` -> ``"NASBench201-v1"`` (the id of the same env at ``version``)."""
    return f"{env_id.rsplit('-', 1)[0]}-{version}"


def _register(
    env_id: str, entry_point: str, kwargs: dict[str, Any], vector_entry_point: str | None
) -> None:
    for name in (env_id, f"{NAMESPACE}/{env_id}"):
        if name not in registry:
            register(
                id=name,
                entry_point=entry_point,
                vector_entry_point=vector_entry_point,
                kwargs=dict(kwargs),
            )


def _register_all() -> None:
    for version, fixed in VERSIONS.items():
        for env_id, entry_point in ENVIRONMENTS.items():
            vector = VECTOR_ENTRY_POINTS.get(env_id)
            _register(versioned(env_id, version), entry_point, fixed, vector)
        for env_id, (base, kwargs) in VARIANTS.items():
            _register(versioned(env_id, version), ENVIRONMENTS[base], {**kwargs, **fixed}, None)


_register_all()

__all__ = ["ENVIRONMENTS", "NAMESPACE", "VARIANTS", "VERSIONS", "__version__", "versioned"]
