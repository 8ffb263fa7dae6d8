"""The study engine: one estimate per comparison, one decision procedure, one guarantee per family.

Below the sweep, the gate and the report, and knowing none of them (nor MLflow or Hydra): ``estimate`` (the
difference on the log scale, its SE and Hsu's df), ``boundaries`` (alpha spending), ``sequential`` (repeated
confidence intervals: the verdicts), ``family`` (what a verdict guarantees over many), ``design`` (an
adaptive sweep's settings and looks), ``defaults`` (each setting's one default).
"""
