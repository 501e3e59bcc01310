"""Search agents with the Stable-Baselines3 interface: CADAM, DDAS, their TD3 variants and baselines.

Import the classes from their subpackages (``nas_gym.agents.cadam``, ``nas_gym.agents.ddas``,
``nas_gym.agents.baselines``) or build them by name with :func:`nas_gym.agents.registry.make_agent`.
Nothing is imported here, so ``import agents`` stays light (no torch).
"""
