"""What a sweep tells while it runs: job k/N, elapsed time, an estimate of what is left."""

from __future__ import annotations

from green_mlflow.sweep.job import JobProgress
from green_mlflow.sweep.outcome import SweepOutcome, bar, duration


def test_durations_read_as_people_say_them():
    assert [duration(s) for s in (0, 42.4, 185, 7440)] == ["0 s", "42 s", "3 min 05 s", "2 h 04 min"]


def test_the_estimate_comes_from_the_jobs_done_so_far():
    outcome = SweepOutcome(total_jobs=4, started_s=100.0)
    assert outcome.progress(1, 100.0) == "job 1/4 · elapsed 0 s", "nothing done yet: no estimate"
    outcome.job_durations_s += [10.0, 30.0]
    assert outcome.progress(3, 145.0) == "job 3/4 · elapsed 45 s · about 40 s left"  # 2 left × 20 s
    outcome.job_durations_s += [20.0, 20.0]
    assert outcome.progress(4, 180.0) == "job 4/4 · elapsed 1 min 20 s", "all done: nothing left to estimate"
    assert SweepOutcome().progress(2, 5.0) == "job 2", "a remote launcher's process knows neither N nor the start"


def test_a_childs_framework_output_is_kept_in_the_log_but_not_shown(tmp_path, capsys):
    progress = JobProgress("torch bs=1", tmp_path / "job" / "job.log")
    progress("converting to ONNX")
    progress.child("[worker] window 1/2: 30 iterations")
    progress.child("I0000 oneDNN custom operations are on.")
    shown = capsys.readouterr().err
    assert "converting to ONNX" in shown and "[worker] window 1/2" in shown and "oneDNN" not in shown
    assert (tmp_path / "job" / "job.log").read_text().splitlines() == [
        "converting to ONNX",
        "[worker] window 1/2: 30 iterations",
        "I0000 oneDNN custom operations are on.",
    ]
    JobProgress("tf", tmp_path / "v.log", verbose=True).child("I0000 oneDNN custom operations are on.")
    assert "oneDNN" in capsys.readouterr().err


def test_on_a_terminal_a_bar_of_the_jobs_done_leads_the_line_and_nowhere_else():
    assert bar(0, 4, width=8) == "[░░░░░░░░]" and bar(2, 4, width=8) == "[████░░░░]" and bar(5, 4, 8) == "[████████]"
    outcome = SweepOutcome(total_jobs=4, started_s=0.0, job_durations_s=[10.0, 10.0])
    assert outcome.progress(3, 20.0, terminal=True) == "[██████████░░░░░░░░░░] job 3/4 · elapsed 20 s · about 20 s left"
    assert outcome.progress(3, 20.0).startswith("job 3/4"), "a pipe or a file gets plain lines"
    assert SweepOutcome().progress(2, 5.0, terminal=True) == "job 2", "no total: no bar"
