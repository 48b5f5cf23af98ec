"""Instance families the platform names, in a plain module (no import at all): the config schema validates
the GPU pool's and the GPU group's types against them, and the policy pack (which imports neither pydantic nor
the SDKs) builds its default allow-list from them."""

from __future__ import annotations

__all__ = ["NVIDIA_GPU_FAMILIES"]

# The EC2 instance families with NVIDIA GPUs that the EKS AL2023_x86_64_NVIDIA AMI (the GPU group's, see
# components/cluster/node_groups.py) runs on: x86_64 only, so not g5g or p6e-gb200 (Graviton/Grace), and not
# g4ad (AMD GPUs), inf*/trn* (Neuron) or dl1 (Gaudi). Source: the AWS "Accelerated computing instances"
# table, https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html (families with an NVIDIA GPU).
NVIDIA_GPU_FAMILIES = (
    "g4dn",
    "g5",
    "g6",
    "g6e",
    "g6f",
    "gr6",
    "gr6f",
    "p3",
    "p3dn",
    "p4d",
    "p4de",
    "p5",
    "p5e",
    "p5en",
    "p6-b200",
)
