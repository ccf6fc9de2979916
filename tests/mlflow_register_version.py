"""Registers a version of a model through the real mlflow client, as a training script would:
a run that logs `acc`, then the model and its version (`runs:/<run>/model`). The server and any
token come from the arguments and the environment (`MLFLOW_TRACKING_TOKEN`), as mlflow reads
them. Prints one JSON line: {"version", "run_id"}. Used by tests/mlflow_model_gates.rs.

Usage: mlflow_register_version.py URL MODEL"""
import json, sys, warnings

warnings.filterwarnings("ignore")

import mlflow
from mlflow import MlflowClient

url, model = sys.argv[1].rstrip("/"), sys.argv[2]
mlflow.set_tracking_uri(url)
with mlflow.start_run() as run:
    mlflow.log_metric("acc", 0.9)
client = MlflowClient()
client.create_registered_model(model)
version = client.create_model_version(model, "runs:/%s/model" % run.info.run_id, run.info.run_id)
print(json.dumps({"version": version.version, "run_id": run.info.run_id}))
