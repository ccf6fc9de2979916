"""Drives a live `kiroku serve` with the real mlflow client; prints one JSON line of findings
for the Rust test (tests/mlflow_server.rs) to check against the store. Usage: script.py URL"""
import json, math, os, sys, tempfile

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.entities import Metric, Param, RunTag

url = sys.argv[1]
mlflow.set_tracking_uri(url)
client = MlflowClient()
out = {}

exp_id = mlflow.set_experiment("compat").experiment_id
assert mlflow.get_experiment_by_name("does-not-exist") is None
with mlflow.start_run(run_name="parent", tags={"team": "vision"}, description="first try") as parent:
    pid = parent.info.run_id
    mlflow.log_param("lr", 0.01)
    mlflow.log_params({"optimizer": "adam", "epochs": 3, "long": "x" * 7000})
    for step in range(10):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
    mlflow.log_metrics({"acc": 0.75, "weird": float("nan"), "up": float("inf"), "down": float("-inf")}, step=9)
    mlflow.log_metric("stamped", 2.5, step=1, timestamp=1700000000123)
    mlflow.set_tag("stage", "eval")
    mlflow.set_tags({"a": "1", "b": "2"})
    client.delete_tag(pid, "b")
    # Changing a param is an error; the same value again is fine.
    mlflow.log_param("lr", 0.01)
    try:
        mlflow.log_param("lr", 0.02)
        out["param_change"] = "accepted"
    except MlflowException as e:
        out["param_change"] = e.error_code
    # The client splits big batches itself; MLflow's server limit is checked with a raw call.
    import requests
    over = {"run_id": pid, "metrics": [{"key": "m", "value": 1.0, "timestamp": 0, "step": 0}] * 1001}
    r = requests.post(f"{url}/api/2.0/mlflow/runs/log-batch", json=over)
    out["batch_limit"] = [r.status_code, r.json().get("error_code")]
    with mlflow.start_run(run_name="child", nested=True) as child:
        cid = child.info.run_id
        mlflow.log_metric("acc", 0.9)
    d = tempfile.mkdtemp()
    path = os.path.join(d, "weights.txt")
    with open(path, "w") as f:
        f.write("w=1\n")
    mlflow.log_artifact(path, "model")
    back = client.download_artifacts(pid, "model/weights.txt", tempfile.mkdtemp())
    out["artifact"] = open(back).read()
    out["listing"] = [f.path for f in client.list_artifacts(pid, "model")]
    # The tracking-side listing (the UI's; the client lists through the artifact proxy).
    listed = f"{url}/api/2.0/mlflow/artifacts/list"
    out["tracking_listing"] = [
        requests.get(listed, params={"run_id": pid}).json(),
        requests.get(listed, params={"run_id": pid, "path": "model", "page_token": "x"}).json(),
        requests.get(listed, params={"run_id": pid, "path": "model/weights.txt"}).json()["files"],
        requests.get(listed, params={"run_id": pid, "path": "../x"}).status_code,
        requests.get(listed, params={"run_id": "0" * 32}).status_code,
    ]

# A failed run and a killed one.
for status in ["FAILED", "KILLED"]:
    r = client.create_run(exp_id, run_name=status.lower())
    client.log_metric(r.info.run_id, "acc", 0.1 if status == "FAILED" else 0.2)
    client.set_terminated(r.info.run_id, status)

try:
    client.get_run("0" * 32)
    out["unknown_run"] = "found"
except MlflowException as e:
    out["unknown_run"] = e.error_code

hist = client.get_metric_history(pid, "loss")
out["history"] = [[m.step, m.value] for m in hist]
out["stamped"] = [m.timestamp for m in client.get_metric_history(pid, "stamped")]
run = client.get_run(pid)
out["status"] = run.info.status
out["params"] = run.data.params
out["special"] = [str(run.data.metrics[k]) for k in ["weird", "up", "down"]]
out["tags"] = {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.source")}

found = client.search_runs([exp_id], "metrics.acc > 0.15 and tags.team = 'vision'")
out["search_filter"] = [r.info.run_name for r in found]
ordered = client.search_runs([exp_id], "", order_by=["metrics.acc DESC"])
out["search_order"] = [r.info.run_name for r in ordered]
out["search_status"] = [r.info.run_name for r in client.search_runs([exp_id], "attributes.status = 'KILLED'")]
out["search_param"] = [r.info.run_name for r in client.search_runs([exp_id], "params.optimizer = 'adam'")]
out["search_child"] = [r.info.run_name for r in client.search_runs([exp_id], f"tags.`mlflow.parentRunId` = '{pid}'")]
page1 = client.search_runs([exp_id], "", max_results=2, order_by=["attributes.run_name ASC"])
page2 = client.search_runs([exp_id], "", max_results=2, order_by=["attributes.run_name ASC"], page_token=page1.token)
out["pages"] = [[r.info.run_name for r in page1], [r.info.run_name for r in page2]]
try:
    client.search_runs([exp_id], "metrics.acc >>> 1")
    out["bad_filter"] = "accepted"
except MlflowException as e:
    out["bad_filter"] = e.error_code
# A deleted run takes no writes (MLflow's _check_run_is_active), through every write route.
gone = client.create_run(exp_id, run_name="gone").info.run_id
client.set_tag(gone, "keep", "1")
client.delete_run(gone)
refusals = {}
for name, call in [
    ("log_metric", lambda: client.log_metric(gone, "acc", 0.5)),
    ("log_param", lambda: client.log_param(gone, "lr", 0.1)),
    ("set_tag", lambda: client.set_tag(gone, "k", "v")),
    ("delete_tag", lambda: client.delete_tag(gone, "keep")),
    ("log_batch", lambda: client.log_batch(gone, metrics=[Metric("acc", 0.5, 0, 0)])),
    ("update", lambda: client.set_terminated(gone, "FINISHED")),
    ("rename", lambda: client.update_run(gone, name="new-name")),
]:
    try:
        call()
        refusals[name] = "accepted"
    except MlflowException as e:
        # RestException prefixes the code; log_param appends advice after a blank line.
        refusals[name] = [e.error_code, e.message.removeprefix(e.error_code + ": ").split("\n")[0]]
# The client sends no empty batch; MLflow's server still checks the run.
r = requests.post(f"{url}/api/2.0/mlflow/runs/log-batch", json={"run_id": gone})
refusals["log_batch_empty"] = [r.json().get("error_code"), r.json().get("message")]
out["deleted_refusals"] = refusals
client.restore_run(gone)
client.log_metric(gone, "acc", 0.5)
out["restored_metrics"] = client.get_run(gone).data.metrics
client.delete_run(gone)
out["gone_id"] = gone
# Experiment tags: on create, set, delete, read back, filtered on; mlflow.note.content is
# the experiment's description.
tagged = client.create_experiment("tagged", tags={"team": "vision", "mlflow.note.content": "about"})
client.set_experiment_tag(tagged, "stage", "dev")
client.set_experiment_tag(tagged, "team", "nlp")
client.delete_experiment_tag(tagged, "stage")
out["exp_tags"] = client.get_experiment(tagged).tags
out["exp_tags_by_name"] = client.get_experiment_by_name("tagged").tags
out["exp_search"] = {
    f: sorted(x.name for x in client.search_experiments(filter_string=f))
    for f in ["tags.team = 'nlp'", "tags.`team` LIKE 'n%'", "tags.team != 'nlp'", "tags.missing = 'x'",
              "name = 'tagged' and tags.team ILIKE 'NLP'"]
}
try:
    client.delete_experiment_tag(tagged, "nope")
    out["exp_tag_missing"] = "accepted"
except MlflowException as e:
    out["exp_tag_missing"] = e.error_code
client.delete_experiment(tagged)
try:
    client.set_experiment_tag(tagged, "k", "v")
    out["exp_tag_deleted"] = "accepted"
except MlflowException as e:
    out["exp_tag_deleted"] = [e.error_code, e.message.removeprefix(e.error_code + ": ")]
client.restore_experiment(tagged)
out["tagged_id"] = tagged
out["experiment_id"] = exp_id
out["parent_id"] = pid
out["child_id"] = cid
print(json.dumps(out))
