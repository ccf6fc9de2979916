"""Metrics of MLflow 3 logged models through the real mlflow client: `log_metric` and
`log_metrics` with `model_id` (with and without a dataset), and after `log_model` in a run (the
client links the run's metrics to its model); read back by `get_logged_model`,
`search_logged_models` and from the run. Prints one JSON line of findings for
tests/mlflow_models.rs; run against MLflow's own server it prints what MLflow answers, for
comparison.

Usage: mlflow_logged_model_metrics.py URL"""
import json, os, sys, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import mlflow
import mlflow.pyfunc
import pandas as pd
from mlflow import MlflowClient

mlflow.set_tracking_uri(sys.argv[1].rstrip("/"))
client = MlflowClient()
mlflow.set_experiment("logged-model-metrics")
out = {}


class Adder(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input["x"] + 1


def metrics_of(model):
    """(key, value, step, model_id is the model's, dataset name, run id is the run's)."""
    return sorted(
        [m.key, m.value, m.step, m.model_id == model.model_id, m.dataset_name, m.run_id == run_id]
        for m in model.metrics
    )


with mlflow.start_run() as run:
    run_id = run.info.run_id
    info = mlflow.pyfunc.log_model(name="adder", python_model=Adder())
    model_id = info.model_id
    mlflow.log_metric("acc", 0.9, step=1, model_id=model_id)
    mlflow.log_metric("acc", 0.95, step=2, model_id=model_id)
    dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2]}), name="holdout")
    mlflow.log_metrics({"loss": 0.25, "f1": 0.8}, model_id=model_id, dataset=dataset)
    # No model id: the client links the run's metric to the model the run logged.
    mlflow.log_metric("implicit", 7.0)
    other = mlflow.pyfunc.log_model(name="other", python_model=Adder())

got = client.get_logged_model(model_id)
out["get"] = metrics_of(got)
found = client.search_logged_models(experiment_ids=[run.info.experiment_id])
out["search"] = {m.name: metrics_of(m) for m in found}
out["run_metrics"] = client.get_run(run_id).data.metrics
out["other_has_none"] = client.get_logged_model(other.model_id).metrics == []
print(json.dumps(out))
