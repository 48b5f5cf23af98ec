"""components.mlflow."""
