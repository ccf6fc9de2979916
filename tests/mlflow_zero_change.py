"""An MLflow-instrumented script with no kiroku in it, run under `kiroku run --mlflow`."""
import mlflow

with mlflow.start_run():
    mlflow.log_param("depth", 4)
    for step in range(3):
        mlflow.log_metric("val_loss", 0.5 - step * 0.1, step=step)
    mlflow.set_tag("framework", "plain-mlflow")
print("trained")
