"""Everything MLflow: the store, the sweep's parent run, one child run per job, the summary."""
