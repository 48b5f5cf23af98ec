"""Pipelines on the platform: Argo Workflows, the pipelines namespace and the reference training pipeline."""
