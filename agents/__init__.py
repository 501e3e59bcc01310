"""Search agents with the Stable-Baselines3 interface: CADAM, DDAS, their TD3 variants and baselines.

Import the classes from their subpackages (``agents.cadam``, ``agents.ddas``,
``agents.baselines``) or build them by name with :func:`agents.registry.make_agent`.
Nothing is imported here, so ``import agents`` stays light (no torch).
"""
