"""mlops_platform.components.mlflow."""
