"""Hydra's plugin namespace requires plugins to live under ``hydra_plugins``; the sweeper is ``green_sweeper``."""
