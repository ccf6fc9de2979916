"""An evaluation command that logs with mlflow, as a user's would: run by the evaluation job
`kiroku serve` submits for each new version (tests/mlflow_model_gates.rs), it finds the server
in MLFLOW_TRACKING_URI and its evaluation run in MLFLOW_RUN_ID, logs `eval_score`, and appends
`VERSION TRACKING_URI RUN_ID TOKEN_FILE` to the file named by its argument (`-` for no token).

With a second argument it also tries, with the same credentials, what an evaluation may write
(into its own run: a tag, a param, a file, a logged model from the run with a tag and its
finalization) and what it may not (a metric on the version's training run, a new run, a
registered model, a logged model from no run), and reads the training run; it writes one JSON
line to that file: each attempt's outcome, "ok" or the error code.

Usage: mlflow_evaluation.py OUT_FILE [PROBE_FILE]"""
import json, os, sys, warnings

warnings.filterwarnings("ignore")

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException


def outcome(attempt):
    try:
        attempt()
        return "ok"
    except MlflowException as e:
        return e.error_code
    except Exception as e:  # the artifact proxy's refusals come as HTTP errors
        return "HTTP 403" if "403" in str(e) else repr(e)[:200]


def probe(run, out_file):
    """What the job's credentials may write, and may not."""
    client = MlflowClient()
    own, trained = run.info.run_id, os.environ["KIROKU_MODEL_RUN_ID"]
    experiment = run.info.experiment_id

    def own_logged_model():
        model = client.create_logged_model(experiment, name="evaluated", source_run_id=own)
        client.set_logged_model_tags(model.model_id, {"by": "evaluation"})
        client.finalize_logged_model(model.model_id, "READY")

    found = {
        "own_tag": outcome(lambda: client.set_tag(own, "checked", "yes")),
        "own_param": outcome(lambda: client.log_param(own, "threshold", "0.5")),
        "own_file": outcome(lambda: client.log_text(own, "fine", "report.txt")),
        "own_logged_model": outcome(own_logged_model),
        "read_training_run": outcome(lambda: client.get_run(trained)),
        "training_run_metric": outcome(lambda: client.log_metric(trained, "acc", 1.0)),
        "training_run_file": outcome(lambda: client.log_text(trained, "forged", "forged.txt")),
        "new_run": outcome(lambda: client.create_run(experiment)),
        "register_model": outcome(lambda: client.create_registered_model("sneaky")),
        "unowned_logged_model": outcome(lambda: client.create_logged_model(experiment, name="x")),
    }
    with open(out_file, "w") as out:
        out.write(json.dumps(found) + "\n")


version = os.environ["KIROKU_MODEL_VERSION"]
with mlflow.start_run() as run:
    mlflow.log_metric("eval_score", 0.5 + int(version) / 10)
    if len(sys.argv) > 2:
        probe(run, sys.argv[2])
with open(sys.argv[1], "a") as out:
    out.write("%s %s %s %s\n" % (version, os.environ.get("MLFLOW_TRACKING_URI", ""), run.info.run_id,
                                  os.environ.get("KIROKU_JOB_TOKEN_FILE", "-")))
