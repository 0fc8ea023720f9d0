"""Building the benchmark sets: corpus reading (`corpus`, `silences`), the labelling rules
(`derive`), speech rendering and channel variants (`render`), the manifest and audio formats
(`manifest`, `audio`) and the cached builder (`build`, `python -m bench.datasets`)."""
