"""The report's searches straight from an SQL tracking store (SQLite, PostgreSQL, MySQL), in four queries.

``MlflowClient.search_runs`` builds an ORM object for every param, tag and metric of every run: for a
1,000-run sweep that is ~93,000 objects and seconds, against a quarter of a second to fetch the same rows
(benchmarks/README.md). Where the client's store is MLflow's ``SqlAlchemyStore`` and the filter is one the
report writes — ``tags.`k` = 'v'`` clauses, ``attributes.status != 'S'``, ``attributes.start_time >= N``,
``attributes.end_time >= N`` joined by ``and`` — this reads MLflow's own tables read-only and returns
records with the attributes of ``mlflow.entities.Run`` the report uses. Anything else (a file store, a
tracking server, another filter, an error) goes through ``search_runs`` as before: same answer, slower.
``tests/tracking/test_sql_search.py`` checks both give the same records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mlflow.tracking import MlflowClient

CHUNK = 500  # run ids per IN (...) list: under SQLite's bound-parameter limit
TAG = re.compile(r"^tags\.`([^`]+)` = '([^']*)'$")
ATTRIBUTE = re.compile(r"^attributes\.(status|start_time|end_time) (!=|>=) (?:'([A-Z]+)'|(\d+))$")


@dataclass
class RecordInfo:
    run_id: str
    run_name: str
    status: str
    start_time: int | None
    end_time: int | None
    experiment_id: str
    artifact_uri: str
    lifecycle_stage: str = "active"


@dataclass
class RecordData:
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class RunRecord:
    """What the report reads of a run (``info`` and ``data`` as on ``mlflow.entities.Run``)."""

    info: RecordInfo
    data: RecordData


def _where(filter_string: str) -> tuple[str, dict] | None:
    """SQL conditions and parameters for the report's filters; None for anything else."""
    conditions, params = [], {}
    for index, clause in enumerate(c.strip() for c in filter_string.split(" and ")):
        if match := TAG.match(clause):
            conditions.append(
                f"EXISTS (SELECT 1 FROM tags t WHERE t.run_uuid = runs.run_uuid AND t.key = :k{index} "
                f"AND t.value = :v{index})"
            )
            params[f"k{index}"], params[f"v{index}"] = match.group(1), match.group(2)
        elif match := ATTRIBUTE.match(clause):
            column, op, text, number = match.groups()
            if (column == "status") != (text is not None) or (column == "status") != (op == "!="):
                return None
            conditions.append(f"runs.{column} {op} :a{index}")
            params[f"a{index}"] = text if text is not None else int(number)
        else:
            return None
    return " AND ".join(conditions) or "1 = 1", params


def sql_search(client: MlflowClient, experiment_id: str, filter_string: str) -> list[RunRecord] | None:
    """The active runs of the experiment matching ``filter_string``; None where this path does not apply."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
    from sqlalchemy import text

    store = client._tracking_client.store
    where = _where(filter_string)
    if not isinstance(store, SqlAlchemyStore) or where is None:
        return None
    conditions, params = where
    query = (
        "SELECT run_uuid, name, status, start_time, end_time, experiment_id, artifact_uri FROM runs "
        f"WHERE experiment_id = :experiment_id AND lifecycle_stage = 'active' AND {conditions}"
    )
    with store.engine.connect() as connection:
        rows = connection.execute(text(query), {**params, "experiment_id": int(experiment_id)}).fetchall()
        records = {
            r[0]: RunRecord(RecordInfo(r[0], r[1] or "", r[2], r[3], r[4], str(r[5]), r[6] or ""), RecordData())
            for r in rows
        }
        ids = list(records)
        for start in range(0, len(ids), CHUNK):
            chunk = {f"r{i}": run_id for i, run_id in enumerate(ids[start : start + CHUNK])}
            among = f"run_uuid IN ({', '.join(':' + k for k in chunk)})"
            for run_id, key, value in connection.execute(
                text(f"SELECT run_uuid, key, value FROM params WHERE {among}"), chunk
            ):
                records[run_id].data.params[key] = value
            for run_id, key, value in connection.execute(
                text(f"SELECT run_uuid, key, value FROM tags WHERE {among}"), chunk
            ):
                records[run_id].data.tags[key] = value
            metrics = f"SELECT run_uuid, key, value, is_nan FROM latest_metrics WHERE {among}"
            for run_id, key, value, is_nan in connection.execute(text(metrics), chunk):
                records[run_id].data.metrics[key] = math.nan if is_nan else float(value)
    for record in records.values():  # MLflow names a run from its tag when the column is empty
        record.info.run_name = record.info.run_name or record.data.tags.get("mlflow.runName", "")
    return sorted(records.values(), key=lambda r: (-(r.info.start_time or 0), r.info.run_id))


def fast_or_client(client: MlflowClient, slow) -> callable:
    """A search that takes the SQL path where it applies and ``slow`` (MLflow's search) otherwise."""

    def search(experiment_id: str, filter_string: str) -> Iterable:
        try:
            found = sql_search(client, experiment_id, filter_string)
        except Exception:  # a schema this code does not know: MLflow's own search still knows it
            found = None
        return found if found is not None else slow(experiment_id, filter_string)

    return search
