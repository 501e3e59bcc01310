"""``nas-gym bench``: many independent search runs on any nas_gym environment, and their report.

A pipeline of small typed stages (imports point down the list, no circle):

* :mod:`~agents.bench.spec`: what to run (``RunSpec``, ``Variant``, ``build_specs``);
* :mod:`~agents.bench.record`: the ``RunResult`` schema (the CSV columns) and run metadata;
* :mod:`~agents.bench.run`: one run in a worker (``run_one``);
* :mod:`~agents.bench.store`: the resumable directory of atomic JSON records;
* :mod:`~agents.bench.backends`: local worker processes or Ray;
* :mod:`~agents.bench.order` and :mod:`~agents.bench.stats`: reading order and statistics;
* :mod:`~agents.bench.report` (pure tables) and :mod:`~agents.bench.plots` (pure figures);
* :mod:`~agents.bench.published`: the one source of published numbers.

``nas_gym/commands/bench.py`` parses the command line and wires the stages.
"""
