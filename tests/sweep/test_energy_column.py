"""Which energy per sample a job is shown by (the summary table) and the sweep's MLflow view sorts by: one order."""

from __future__ import annotations

from green_mlflow.sweep.ledger import energy_cell, energy_metric


def test_net_before_gross_and_measured_before_estimated_in_the_table_and_the_view():
    measured = {"energy_per_sample_gross_j": 2.0, "energy_per_sample_net_j": 1.5, "energy_method": "counter"}
    estimated = {"energy_per_sample_gross_estimated_j": 3.0, "energy_per_sample_net_estimated_j": 2.5}
    no_idle = {"energy_per_sample_gross_j": 2.0}
    assert energy_cell(measured) == "1.5 J (net, counter)"
    assert energy_cell(estimated) == "2.5 J (net, estimated)"
    assert energy_cell(no_idle) == "2 J (gross, measured)"
    assert energy_cell({"status": "FINISHED"}) == "unavailable" and energy_cell({"status": "FAILED"}) == "-"
    assert energy_metric([estimated, measured]) == "energy_per_sample_net_j"
    assert energy_metric([estimated]) == "energy_per_sample_net_estimated_j"
    assert energy_metric([no_idle, estimated]) == "energy_per_sample_gross_j"
    assert energy_metric([{"status": "FAILED"}]) == "energy_per_sample_net_estimated_j"
