"""mlops_platform.components.platform."""
