"""Hydra's plugin namespace requires plugins to live under ``hydra_plugins``; the launcher is ``green_slurm``."""
