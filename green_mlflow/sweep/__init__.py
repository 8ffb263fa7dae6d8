"""The sweep's lifecycle, on the orchestrator's side.

A sweep (or a single run, which is a sweep of one) opens a parent run, measures the host's idle
baseline once, runs each job (plan → convert → worker → child run) and records it in the sweep's
ledger, then at the end logs break-even points, writes the comparison report and closes the parent
run. ``SweepOutcome`` carries what the process's exit code needs.

Modules: ``callback`` (the Hydra callback: start and end of a multirun), ``lifecycle`` (parent run,
idle on the parent, closing), ``job`` (one job from plan to MLflow), ``idle`` (the idle baseline),
``ledger`` (``jobs.jsonl`` and the summary table), ``break_even`` and ``outcome``.
"""
