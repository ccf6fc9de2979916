"""Logs MLflow datasets (`mlflow.log_input`) with the real mlflow client, either into a live
`kiroku serve` (URL) or into an MLflow store of its own (sqlite:///… or file://…) for the
importer; prints one JSON line with the run id, the digests MLflow computed and the inputs
`get_run` reads back, for the Rust tests (tests/cli_data.rs) to check against the store.
Usage: script.py TRACKING_URI DATA_DIR"""
import json, os, sys

import mlflow
import pandas as pd

uri, data_dir = sys.argv[1], sys.argv[2]
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("datasets")
frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, None, 1.5], "c": ["x", "y", None]})
path = os.path.join(data_dir, "train.csv")
frame.to_csv(path, index=False)
with mlflow.start_run(run_name="with-inputs") as run:
    train = mlflow.data.from_pandas(frame, source=path, name="train")
    mlflow.log_input(train, context="training")
    held_out = mlflow.data.from_pandas(frame.head(2), name="eval")
    mlflow.log_input(held_out, context="eval")
    # The same dataset again changes nothing.
    mlflow.log_input(train, context="training")
read_back = [
    [d.dataset.name, d.dataset.digest, {t.key: t.value for t in d.tags}.get("mlflow.data.context")]
    for d in mlflow.get_run(run.info.run_id).inputs.dataset_inputs
]
print(json.dumps({"run_id": run.info.run_id, "train": train.digest, "eval": held_out.digest,
                  "path": path, "read_back": sorted(read_back)}))
