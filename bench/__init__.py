"""Benchmark of turn-taking on real conversations (see README, "Benchmark").

`python -m bench overlap|session|endpoint|all|load ...` (`bench.cli`). The subpackages
follow the jobs: `datasets` builds the sets, `evaluation` runs systems on them, `training`
fits the shipped models on the train splits.
"""
