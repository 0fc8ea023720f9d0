"""Benchmark of turn-taking on real conversations (see README, "Benchmark")."""
