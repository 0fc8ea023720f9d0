"""Training the shipped models on the train splits, choices on val: the arbiter's text model
and operating point (`arbiter`), its early audio classifier (`onset`), the endpointing
models (`endpointing`) and the acknowledgement words (`acknowledgements`); each runs as
`python -m bench.training.<name>`."""
