"""Drives a tracking server with the real mlflow client's model APIs: logged models (sklearn and
pyfunc flavors), the registry (register, aliases, stages, search with filter/order/paging,
rename, delete), loading by alias, version, model id and runs URI, and MLflow's error codes.
Prints one JSON line of findings for the Rust test (tests/mlflow_models.rs).

Usage: mlflow_models.py URL [--shapes]   (--shapes adds the raw JSON shapes of the registry
answers, for comparing two servers)."""
import json, os, sys, tempfile, urllib.request, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

import numpy as np
import mlflow
import mlflow.pyfunc
import mlflow.sklearn
from mlflow import MlflowClient
from mlflow.entities import LoggedModelStatus
from mlflow.exceptions import MlflowException
from sklearn.linear_model import LogisticRegression

url = sys.argv[1].rstrip("/")
shapes = "--shapes" in sys.argv
mlflow.set_tracking_uri(url)
client = MlflowClient()
out = {}


def code(fn):
    """The MLflow error code a call raises, or None."""
    try:
        fn()
    except MlflowException as e:
        return e.error_code
    return None


def raw(method, path, body=None):
    """One registry request as JSON, for comparing answer shapes."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{url}/api/2.0/mlflow/{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return json.loads(e.read() or b"{}")


def shape(v):
    """Keys and types, values dropped."""
    if isinstance(v, dict):
        return {k: shape(x) for k, x in sorted(v.items())}
    if isinstance(v, list):
        return [shape(v[0])] if v else []
    return type(v).__name__


class AddN(mlflow.pyfunc.PythonModel):
    def __init__(self, n):
        self.n = n

    def predict(self, context, model_input, params=None):
        return model_input + self.n


mlflow.set_experiment("models")
X = np.array([[0.0], [1.0], [2.0], [3.0]])
y = np.array([0, 0, 1, 1])

# sklearn, registered as it is logged.
with mlflow.start_run(run_name="train") as run:
    sk = LogisticRegression().fit(X, y)
    info = mlflow.sklearn.log_model(sk, name="model", registered_model_name="clf", input_example=X[:1])
    run_id = run.info.run_id
expected = sk.predict(X).tolist()
out["registered_version"] = str(info.registered_model_version)
out["model_id_form"] = info.model_id.startswith("m-")

# pyfunc, registered afterwards from its runs: URI.
with mlflow.start_run(run_name="adder") as run2:
    mlflow.pyfunc.log_model(name="adder", python_model=AddN(3))
    adder_run = run2.info.run_id
mv = mlflow.register_model(f"runs:/{adder_run}/adder", "adder")
out["adder_version"] = mv.version
out["adder_source_is_model"] = mv.source.startswith("models:/m-")

# Aliases and loading by alias, version, model id, runs URI.
client.set_registered_model_alias("clf", "champion", "1")
loaded = {
    "alias": mlflow.pyfunc.load_model("models:/clf@champion").predict(X).tolist(),
    "version": mlflow.pyfunc.load_model("models:/clf/1").predict(X).tolist(),
    "model_id": mlflow.pyfunc.load_model(f"models:/{info.model_id}").predict(X).tolist(),
    "runs": mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(X).tolist(),
    "sklearn": mlflow.sklearn.load_model("models:/clf@champion").predict(X).tolist(),
}
out["loads_match"] = all(v == expected for v in loaded.values())
adder = mlflow.pyfunc.load_model("models:/adder/1").predict(np.array([1.0, 2.0]))
out["adder_predicts"] = [float(x) for x in adder]

# A second version; the alias moves.
with mlflow.start_run(run_name="train2"):
    mlflow.sklearn.log_model(LogisticRegression(C=0.5).fit(X, y), name="model", registered_model_name="clf")
client.set_registered_model_alias("clf", "champion", "2")
client.set_registered_model_alias("clf", "challenger", "1")
by_alias = client.get_model_version_by_alias("clf", "champion")
out["champion"] = [by_alias.version, sorted(by_alias.aliases)]
rm = client.get_registered_model("clf")
out["model_aliases"] = dict(sorted(rm.aliases.items()))
out["version_aliases"] = sorted(client.get_model_version("clf", "1").aliases)
client.delete_registered_model_alias("clf", "challenger")
out["after_delete_alias"] = sorted(client.get_registered_model("clf").aliases)

# Tags, descriptions, stages.
client.set_registered_model_tag("clf", "team", "vision")
client.set_model_version_tag("clf", "1", "validated", "yes")
client.update_registered_model("clf", description="classifier")
client.update_model_version("clf", "2", description="second")
mv1 = client.get_model_version("clf", "1")
out["version_tags"] = mv1.tags
out["model_description"] = client.get_registered_model("clf").description
client.delete_model_version_tag("clf", "1", "validated")
client.delete_registered_model_tag("clf", "team")
client.transition_model_version_stage("clf", "2", "Production")
latest = client.get_latest_versions("clf", stages=["Production"])
out["latest_production"] = [v.version for v in latest]
out["download_uri"] = client.get_model_version_download_uri("clf", "1")

# Search: filters, order, paging.
for i in range(5):
    client.create_registered_model(f"search-{i}", tags={"i": str(i)})
names = lambda ms: [m.name for m in ms]
out["search_like"] = names(client.search_registered_models(filter_string="name LIKE 'search-%'"))
out["search_desc"] = names(client.search_registered_models(filter_string="name LIKE 'search-%'", order_by=["name DESC"]))
out["search_tag"] = names(client.search_registered_models(filter_string="tags.i = '3'"))
page1 = client.search_registered_models(filter_string="name LIKE 'search-%'", max_results=2)
page2 = client.search_registered_models(filter_string="name LIKE 'search-%'", max_results=2, page_token=page1.token)
out["search_pages"] = [names(page1), names(page2), page1.token is not None]
versions = client.search_model_versions("name = 'clf'", order_by=["version_number ASC"])
out["versions"] = [[v.version, v.run_id == run_id if v.version == "1" else None, list(v.aliases)] for v in versions]
out["versions_by_run"] = [v.version for v in client.search_model_versions(f"run_id = '{run_id}'")]

# Logged models directly.
exp_id = mlflow.get_experiment_by_name("models").experiment_id
found = mlflow.search_logged_models(experiment_ids=[exp_id], filter_string="name = 'model'", output_format="list")
out["logged_named_model"] = len(found)
lm = client.get_logged_model(info.model_id)
out["logged_status"] = str(lm.status)
out["logged_run"] = lm.source_run_id == run_id
client.set_logged_model_tags(info.model_id, {"k": "v"})
client.delete_logged_model_tag(info.model_id, "k")
made = client.create_logged_model(experiment_id=exp_id, name="bare", params={"alpha": "1"})
client.log_model_params(made.model_id, {"beta": "2"})
client.finalize_logged_model(made.model_id, LoggedModelStatus.READY)
made = client.get_logged_model(made.model_id)
out["bare"] = [str(made.status), made.params]
client.delete_logged_model(made.model_id)
out["deleted_logged"] = code(lambda: client.get_logged_model(made.model_id))
with tempfile.TemporaryDirectory() as d:
    path = mlflow.artifacts.download_artifacts(artifact_uri=f"{lm.artifact_location}/MLmodel", dst_path=d)
    out["mlmodel_has_sklearn"] = "sklearn" in open(path).read()
listed = client.list_logged_model_artifacts(info.model_id) if hasattr(client, "list_logged_model_artifacts") else None
out["listed"] = sorted(f.path for f in listed) if listed is not None else None

# Error codes.
out["errors"] = {
    "exists": code(lambda: client.create_registered_model("clf")),
    "missing_model": code(lambda: client.get_registered_model("nope")),
    "missing_version": code(lambda: client.get_model_version("clf", "99")),
    "latest": code(lambda: client.set_registered_model_alias("clf", "latest", "1")),
    "v3": code(lambda: client.set_registered_model_alias("clf", "V3", "1")),
    "missing_alias": code(lambda: client.get_model_version_by_alias("clf", "nobody")),
    "bad_filter": code(lambda: client.search_registered_models(filter_string="nme = 'x'")),
    "rename_taken": code(lambda: client.rename_registered_model("search-0", "search-1")),
}

if shapes:
    out["shapes"] = {
        "get": shape(raw("GET", "registered-models/get?name=clf")),
        "version": shape(raw("GET", "model-versions/get?name=clf&version=1")),
        "alias": shape(raw("GET", "registered-models/alias?name=clf&alias=champion")),
        "not_found": shape(raw("GET", "registered-models/get?name=nope")),
        "logged": shape(raw("GET", f"logged-models/{info.model_id}")),
    }

# Rename and delete.
client.rename_registered_model("clf", "classifier")
out["renamed_alias"] = client.get_model_version_by_alias("classifier", "champion").version
out["old_name"] = code(lambda: client.get_registered_model("clf"))
client.delete_model_version("classifier", "1")
out["after_version_delete"] = [v.version for v in client.search_model_versions("name = 'classifier'")]
client.delete_registered_model("classifier")
out["after_delete"] = code(lambda: client.get_registered_model("classifier"))
out["run_id"] = run_id
out["model_id"] = info.model_id
print(json.dumps(out))
