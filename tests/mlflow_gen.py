#!/usr/bin/env python3
"""Writes real MLflow stores with the `mlflow` package, and what MLflow reports about them.

Usage: python3 tests/mlflow_gen.py OUT_DIR

Creates, under OUT_DIR:
  file/mlruns/              a FileStore (MLFLOW_TRACKING_URI=file:OUT_DIR/file/mlruns)
  sql/mlflow.db             a SQL store (MLFLOW_TRACKING_URI=sqlite:///OUT_DIR/sql/mlflow.db),
                            with its artifacts under sql/mlruns/ (MLflow's default root)
  expected-mlruns.json      every experiment and run of the FileStore as MlflowClient reports
  expected-mlflow-db.json   the same for the SQL store
The JSON has the shape of shared/fixtures/mlflow-3.17/expected-*.json (metric values: NaN as
null, +-inf as "inf"/"-inf"; metric_history as [step, timestamp, value]), plus per run an
"artifacts" list of {path, size, sha256}. Used by tests/import_mlflow.rs.
"""
import hashlib
import json
import math
import os
import sys
import tempfile

os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import ViewType  # noqa: E402

NAN = float("nan")
INF = float("inf")


def populate(uri):
    """Logs the same set of runs into the store at `uri`."""
    os.environ["MLFLOW_TRACKING_URI"] = uri
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)

    main = mlflow.set_experiment("gen-main").experiment_id
    with mlflow.start_run(run_name="parent") as parent:
        pid = parent.info.run_id
        mlflow.log_params({"lr": "0.01", "layers": 3, "model/depth": 6, "prompt": "line one\nline two"})
        mlflow.set_tags(
            {
                "team": "vision",
                "multi": "first line\nsecond line\n",
                "mlflow.source.git.commit": "0123456789abcdef0123456789abcdef01234567",
                "mlflow.source.git.branch": "feature/import",
            }
        )
        mlflow.set_tag("mlflow.note.content", "# Parent run\n\nSome **markdown**, and a second paragraph.\n")
        for step in range(25):
            mlflow.log_metric("train/loss", 1.0 / (step + 1), step=step)
            if step % 5 == 0:
                mlflow.log_metric("val/acc", 0.5 + step / 100.0, step=step)
        for step, value in enumerate([NAN, INF, -INF, 0.5]):
            mlflow.log_metric("odd", value, step=step)
        mlflow.log_metric("ends_nan", 1.0, step=0)
        mlflow.log_metric("ends_nan", NAN, step=1)
        # Same step and timestamp twice (the larger value is the latest), then a lower step later.
        client.log_metric(pid, "tie", 1.0, timestamp=1_000, step=5)
        client.log_metric(pid, "tie", 2.0, timestamp=1_000, step=5)
        client.log_metric(pid, "tie", 9.0, timestamp=2_000, step=3)
        client.log_metric(pid, "no_step", 4.25, timestamp=3_000)
        mlflow.log_text("hello artifact\n", "reports/summary.txt")
        mlflow.log_dict({"a": 1, "b": [1, 2]}, "config.json")
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_param("fold", 0)
            mlflow.log_metric("fold_acc", 0.75)
            mlflow.set_tag("mlflow.note.content", "child note")

    crashed = mlflow.start_run(run_name="crashed")
    mlflow.log_metric("loss", 3.0, step=0)
    mlflow.log_metric("loss", 2.5, step=1)
    mlflow.end_run(status="FAILED")

    killed = client.create_run(main, run_name="killed", tags={"owner": "ops"})
    client.log_metric(killed.info.run_id, "loss", 7.0)
    client.set_terminated(killed.info.run_id, status="KILLED")

    # Never ended: RUNNING without an end time.
    running = client.create_run(main, run_name="still-running")
    client.log_param(running.info.run_id, "x", "1")

    scheduled = client.create_run(main, run_name="queued-one")
    client.update_run(scheduled.info.run_id, status="SCHEDULED")

    gone = client.create_run(main, run_name="to-delete")
    client.log_param(gone.info.run_id, "x", "1")
    client.log_metric(gone.info.run_id, "loss", 1.0)
    client.set_terminated(gone.info.run_id)
    client.delete_run(gone.info.run_id)

    uni = client.create_experiment("ünïcode exp/名前")
    with mlflow.start_run(experiment_id=uni, run_name="uni run ✓"):
        mlflow.log_param("clé", "välue")
        mlflow.log_metric("métrique", 1.5)

    trash = client.create_experiment("gen-trash")
    trashed = client.create_run(trash, run_name="trashed")
    client.log_metric(trashed.info.run_id, "loss", 0.1)
    client.set_terminated(trashed.info.run_id)
    client.delete_experiment(trash)
    _ = crashed


def enc(value):
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def artifacts(client, uri, run_id, path=None):
    out = []
    for info in client.list_artifacts(run_id, path):
        if info.is_dir:
            out.extend(artifacts(client, uri, run_id, info.path))
            continue
        with tempfile.TemporaryDirectory() as tmp:
            local = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=info.path, dst_path=tmp, tracking_uri=uri
            )
            with open(local, "rb") as f:
                data = f.read()
        out.append({"path": info.path, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    return sorted(out, key=lambda a: a["path"])


def dump(uri, store):
    client = MlflowClient(uri)
    doc = {"mlflow_version": mlflow.__version__, "store": store, "experiments": []}
    for exp in client.search_experiments(view_type=ViewType.ALL):
        runs = []
        for run in client.search_runs([exp.experiment_id], run_view_type=ViewType.ALL, max_results=1000):
            info, data = run.info, run.data
            runs.append(
                {
                    "run_id": info.run_id,
                    "run_name": info.run_name,
                    "status": info.status,
                    "lifecycle_stage": info.lifecycle_stage,
                    "start_time": info.start_time,
                    "end_time": info.end_time,
                    "user_id": info.user_id,
                    "params": data.params,
                    "tags": data.tags,
                    "latest_metrics": {k: enc(v) for k, v in data.metrics.items()},
                    "parent_run_id": data.tags.get("mlflow.parentRunId"),
                    "metric_history": {
                        key: [[m.step, m.timestamp, enc(m.value)] for m in client.get_metric_history(info.run_id, key)]
                        for key in data.metrics
                    },
                    "artifacts": artifacts(client, uri, info.run_id),
                }
            )
        doc["experiments"].append(
            {
                "experiment_id": exp.experiment_id,
                "name": exp.name,
                "lifecycle_stage": exp.lifecycle_stage,
                "runs": runs,
            }
        )
    return doc


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.abspath(sys.argv[1])
    file_dir = os.path.join(out, "file")
    sql_dir = os.path.join(out, "sql")
    os.makedirs(file_dir, exist_ok=True)
    os.makedirs(sql_dir, exist_ok=True)

    file_uri = "file:" + os.path.join(file_dir, "mlruns")
    os.chdir(file_dir)
    populate(file_uri)
    file_doc = dump(file_uri, "file")

    # MLflow puts a SQL store's artifacts under ./mlruns of the working folder.
    sql_uri = "sqlite:///" + os.path.join(sql_dir, "mlflow.db")
    os.chdir(sql_dir)
    populate(sql_uri)
    sql_doc = dump(sql_uri, "sqlite")

    for name, doc in [("expected-mlruns.json", file_doc), ("expected-mlflow-db.json", sql_doc)]:
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, ensure_ascii=False, allow_nan=False)


if __name__ == "__main__":
    main()
