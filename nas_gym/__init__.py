"""nas_gym: neural architecture search as Gymnasium environments.

``import nas_gym`` registers the environments; it does not import torch.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

__version__ = "0.1.0"

#: Environment ids this package registers, with their entry points.
ENVIRONMENTS: dict[str, str] = {
    "NASBench201-v0": "nas_gym.envs.nb201:NASBench201Env",
    "DARTSSupernet-v0": "nas_gym.envs.darts:DARTSSupernetEnv",
    "ProxylessNAS-v0": "nas_gym.envs.proxyless:ProxylessNASEnv",
}


def _register_all() -> None:
    for env_id, entry_point in ENVIRONMENTS.items():
        if env_id not in registry:
            register(
                id=env_id,
                entry_point=entry_point,
                vector_entry_point="nas_gym.envs.nb201_vector:NASBench201VectorEnv"
                if env_id == "NASBench201-v0"
                else None,
            )


_register_all()

__all__ = ["ENVIRONMENTS", "__version__"]
