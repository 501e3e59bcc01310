"""``nas-gym bench``: many independent search runs on NAS-Bench-201, and their report.

* :mod:`agents.bench.runner` runs agents x datasets x reward metrics x budgets x seeds
  in worker processes (or Ray tasks) and writes one JSON record per run;
* :mod:`agents.bench.report` turns the records into ``results.csv`` and ``results.md``;
* :mod:`agents.bench.plots` draws best-so-far curves;
* :mod:`agents.bench.published` holds the published numbers printed beside ours.
"""
