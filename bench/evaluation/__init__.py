"""Running systems on the benchmark sets: the commands (`commands`, `suite`), the runners,
our systems (`ours_overlap`, `ours_endpoint`) and the baselines, the session episodes and
their stacks, metrics, reports and plots, the transcript precompute, the load and soak
benchmark, and the endpoint corpus replay (`python -m bench.evaluation.endpoint_corpus`)."""
