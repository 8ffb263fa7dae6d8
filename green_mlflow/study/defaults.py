"""The study's statistical settings, each with one default: every module reads these, none writes its own.

The sweep's ``hydra.sweeper.*`` (conf: ``hydra/sweeper/green``), the report and the gate start from here; a
report of an adaptive sweep reads the sweep's own design (``adaptive/design.json``) instead.
"""

ALPHA = 0.05  # family-wise error rate of a family of comparisons (``family.Family``)
MARGIN_REL = 0.05  # equivalence margin: b within ±5 % of a
SPENDING = "pocock"  # alpha-spending function of the repeated intervals (``boundaries.SPENDING``)
