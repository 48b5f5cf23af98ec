"""The reference pipeline's steps: ``python -m reference_pipeline prepare|train|evaluate|register ...``.

Each step reads its inputs from the command line (Argo input parameters), talks to S3 through boto3's
default credential chain (IRSA in the cluster) and to MLflow through the ``MLFLOW_TRACKING_*`` variables,
and writes each output parameter to ``<outputs-dir>/<name>`` (Argo's ``valueFrom.path``). A step that
cannot do its job exits non-zero with one clear line, which fails the workflow.
"""
