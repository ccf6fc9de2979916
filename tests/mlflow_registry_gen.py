#!/usr/bin/env python3
"""Writes an MLflow SQL store with a model registry and logged models, using the `mlflow`
package itself, and what MlflowClient reports about them.

Usage: python3 tests/mlflow_registry_gen.py OUT_DIR

Creates OUT_DIR/mlflow.db (artifacts under OUT_DIR/mlruns, MLflow's default root) and
OUT_DIR/expected.json: {"registered_models": [{name, description, tags, aliases, versions:
[{version, source, run_id, stage, description, tags, status}]}], "logged_models": [{model_id,
name, experiment, status, source_run_id, params, tags, metrics: [{key, value, step, timestamp,
run_id, dataset_name, dataset_digest}]}]}. Used by tests/import_mlflow_registry.rs.
"""
import json, os, sys, warnings

warnings.filterwarnings("ignore")
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")

out = os.path.abspath(sys.argv[1])
os.makedirs(out, exist_ok=True)
os.chdir(out)

import numpy as np  # noqa: E402
import mlflow  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

uri = f"sqlite:///{out}/mlflow.db"
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
client = MlflowClient(uri, uri)

X = np.array([[0.0], [1.0], [2.0], [3.0]])
y = np.array([0, 0, 1, 1])
mlflow.set_experiment("gen-models")
holdout = mlflow.data.from_numpy(X, name="holdout")
for c in (1.0, 0.5, 0.25):
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(LogisticRegression(C=c).fit(X, y), name="model",
                                        registered_model_name="clf", params={"C": str(c)})
        # Metrics of the logged model: plain, at steps, and on a dataset.
        mlflow.log_metric("acc", 1 - c / 4, step=1, model_id=info.model_id)
        mlflow.log_metric("acc", 1 - c / 8, step=2, model_id=info.model_id)
        mlflow.log_metric("loss", c, model_id=info.model_id, dataset=holdout)
with mlflow.start_run():
    mlflow.sklearn.log_model(LogisticRegression().fit(X, y), name="unregistered")
client.delete_model_version("clf", "2")
client.set_registered_model_alias("clf", "champion", "3")
client.set_registered_model_alias("clf", "old", "1")
client.set_registered_model_tag("clf", "team", "vision")
client.set_model_version_tag("clf", "3", "validated", "yes")
client.update_registered_model("clf", description="the classifier")
client.update_model_version("clf", "1", description="first")
client.transition_model_version_stage("clf", "3", "Production")
client.create_registered_model("empty", description="nothing yet", tags={"k": "v"})

expected = {"registered_models": [], "logged_models": []}
for rm in sorted(client.search_registered_models(), key=lambda m: m.name):
    versions = sorted(client.search_model_versions(f"name = '{rm.name}'"), key=lambda v: int(v.version))
    expected["registered_models"].append({
        "name": rm.name,
        "description": rm.description or "",
        "tags": rm.tags,
        "aliases": {a: int(v) for a, v in rm.aliases.items()},
        "versions": [{
            "version": int(v.version), "source": v.source, "run_id": v.run_id, "stage": v.current_stage,
            "description": v.description or "", "tags": v.tags, "status": v.status,
        } for v in versions],
    })
exp = mlflow.get_experiment_by_name("gen-models")
for m in sorted(mlflow.search_logged_models(experiment_ids=[exp.experiment_id], output_format="list"),
                key=lambda m: m.model_id):
    expected["logged_models"].append({
        "model_id": m.model_id, "name": m.name, "experiment": "gen-models", "status": str(m.status),
        "source_run_id": m.source_run_id, "params": m.params, "tags": m.tags,
        "metrics": sorted(({
            "key": x.key, "value": x.value, "step": x.step, "timestamp": x.timestamp, "run_id": x.run_id,
            "dataset_name": x.dataset_name, "dataset_digest": x.dataset_digest,
        } for x in (m.metrics or [])), key=lambda x: (x["key"], x["step"], x["timestamp"])),
    })
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
