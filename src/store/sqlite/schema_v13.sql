-- Migration 13: MLflow fidelity (issues 10 and 15, mlflowdata). A run's MLflow-style input keeps
-- the dataset and the input's tags exactly as MLflow logged them (`log_input`, or imported), as
-- the JSON of `model::MlflowDataset`, so that MLflow's `runs/get` and `runs/search` answer with
-- them as MLflow does. NULL for kiroku's own inputs.
ALTER TABLE run_inputs ADD COLUMN mlflow_json TEXT;
