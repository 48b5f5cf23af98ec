"""mlops_platform.components.database."""
