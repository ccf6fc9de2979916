"""Moves aliases of a gated model through the real mlflow client against `kiroku serve`, whose
project kiroku.toml gives `[models.gated]` a gate on `production`, an evaluation and a hook
(tests/mlflow_model_gates.rs sets it up and checks the store, the hook and the evaluations).
Prints one JSON line of findings.

Usage: mlflow_model_gates.py URL"""
import json, sys, warnings

warnings.filterwarnings("ignore")

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

mlflow.set_tracking_uri(sys.argv[1].rstrip("/"))
client = MlflowClient()
out = {}


def refusal(fn):
    """The error code and message a call raises, or None."""
    try:
        fn()
    except MlflowException as e:
        return [e.error_code, e.message]
    return None


runs = {}
for name, acc in [("weak", 0.5), ("strong", 0.95)]:
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_metric("acc", acc)
        runs[name] = run.info.run_id

client.create_registered_model("gated")
weak = client.create_model_version("gated", "runs:/%s/model" % runs["weak"], runs["weak"])
strong = client.create_model_version("gated", "runs:/%s/model" % runs["strong"], runs["strong"])
out["versions"] = [weak.version, strong.version]

out["weak_to_production"] = refusal(
    lambda: client.set_registered_model_alias("gated", "production", weak.version))
out["after_refusal"] = client.get_registered_model("gated").aliases
out["strong_to_production"] = refusal(
    lambda: client.set_registered_model_alias("gated", "production", strong.version))
# No gate on staging: any version takes it.
out["weak_to_staging"] = refusal(
    lambda: client.set_registered_model_alias("gated", "staging", weak.version))
out["aliases"] = client.get_registered_model("gated").aliases
out["by_alias"] = client.get_model_version_by_alias("gated", "production").version
client.delete_registered_model_alias("gated", "production")
out["after_delete"] = client.get_registered_model("gated").aliases

# Deleting a version, then the model, removes the aliases they held: each removal fires the
# `doomed` model's alias_deleted hook.
client.create_registered_model("doomed")
first = client.create_model_version("doomed", "runs:/%s/model" % runs["weak"], runs["weak"])
second = client.create_model_version("doomed", "runs:/%s/model" % runs["strong"], runs["strong"])
for alias, version in [("a", first.version), ("b", second.version), ("c", second.version)]:
    client.set_registered_model_alias("doomed", alias, version)
client.delete_model_version("doomed", first.version)
out["doomed_after_version_delete"] = client.get_registered_model("doomed").aliases
client.delete_registered_model("doomed")
print(json.dumps(out))
