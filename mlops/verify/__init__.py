"""``mlops verify``: the rendered platform checked by the real tools (helm, Kubernetes and CRD schemas,
API-server rules, parliament, the policy pack over chart manifests)."""
