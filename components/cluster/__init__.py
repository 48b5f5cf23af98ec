"""components.cluster."""
