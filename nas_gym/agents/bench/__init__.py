"""``nas-gym bench``: many independent search runs on any nas_gym environment, and their report.

A pipeline of small typed stages (imports point down the list, no circle):

* :mod:`~nas_gym.agents.bench.spec`: what to run (``RunSpec``, ``Variant``, ``build_specs``);
* :mod:`~nas_gym.agents.bench.record`: the ``RunResult`` schema (the CSV columns) and run metadata;
* :mod:`~nas_gym.agents.bench.run`: runs in a worker (``run_one``; ``run_group``, CADAM seeds in lockstep);
* :mod:`~nas_gym.agents.bench.store`: the resumable directory of atomic JSON records;
* :mod:`~nas_gym.agents.bench.backends`: units of runs (``plan_units``) on local worker processes or Ray;
* :mod:`~nas_gym.agents.bench.order` and :mod:`~nas_gym.agents.bench.stats`: reading order and statistics;
* :mod:`~nas_gym.agents.bench.report` (pure tables) and :mod:`~nas_gym.agents.bench.plots` (pure figures);
* :mod:`~nas_gym.agents.bench.published`: the one source of published numbers.

``nas_gym/commands/bench.py`` parses the command line and wires the stages.
"""
