"""An evaluation command that logs with mlflow, as a user's would: run by the evaluation job
`kiroku serve` submits for each new version (tests/mlflow_model_gates.rs), it finds the server
in MLFLOW_TRACKING_URI and its evaluation run in MLFLOW_RUN_ID, logs `eval_score`, and appends
`VERSION TRACKING_URI RUN_ID` to the file named by its argument.

Usage: mlflow_evaluation.py OUT_FILE"""
import os, sys, warnings

warnings.filterwarnings("ignore")

import mlflow

version = os.environ["KIROKU_MODEL_VERSION"]
with mlflow.start_run() as run:
    mlflow.log_metric("eval_score", 0.5 + int(version) / 10)
with open(sys.argv[1], "a") as out:
    out.write("%s %s %s\n" % (version, os.environ.get("MLFLOW_TRACKING_URI", ""), run.info.run_id))
