"""Turn-taking plugins for LiveKit Agents voice agents (one package per plugin)."""
