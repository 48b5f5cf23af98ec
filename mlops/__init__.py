"""Command line and offline engine of the mlops-platform blueprint.

``mlops plan STACK`` renders a stack program offline under a recording monitor and prints the
resource graph; ``mlops check STACK`` runs the policy pack over that graph through the same
gRPC analyzer protocol the Pulumi CLI uses.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT_NAME = "mlops-platform"
