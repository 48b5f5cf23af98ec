"""mlops_platform.components.network.endpoints: the catalogue of interface endpoints and their policy."""

from __future__ import annotations

import json

import pytest

from mlops_platform.components.network.endpoints import (
    ENDPOINT_SERVICE_PURPOSES,
    ENDPOINTS_WITHOUT_POLICY,
    INTERFACE_ENDPOINT_SERVICES,
    REQUIRED_ENDPOINTS,
    ecr_layer_bucket_arn,
    endpoint_policy,
)


def test_every_default_and_required_endpoint_is_in_the_catalogue() -> None:
    assert set(INTERFACE_ENDPOINT_SERVICES) <= set(ENDPOINT_SERVICE_PURPOSES)
    assert set(REQUIRED_ENDPOINTS) <= set(INTERFACE_ENDPOINT_SERVICES)
    assert ENDPOINTS_WITHOUT_POLICY == ("sts",)


def test_endpoint_policy_admits_principals_of_the_account_only() -> None:
    doc = json.loads(endpoint_policy("210987654321", service="logs"))
    assert doc == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PrincipalsOfThisAccountOnly",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:PrincipalAccount": "210987654321"}},
            }
        ],
    }


def test_s3_endpoint_policy_also_admits_ecr_layer_reads_of_its_region() -> None:
    _, layers = json.loads(endpoint_policy("210987654321", service="s3", region="eu-west-1"))["Statement"]
    assert layers == {
        "Sid": "EcrImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::prod-eu-west-1-starport-layer-bucket/*",
    }
    assert ecr_layer_bucket_arn("us-gov-west-1", "aws-us-gov") == (
        "arn:aws-us-gov:s3:::prod-us-gov-west-1-starport-layer-bucket/*"
    )


def test_s3_endpoint_policy_needs_the_region() -> None:
    with pytest.raises(ValueError, match="region"):
        endpoint_policy("210987654321", service="s3")
