"""docker/mlflow/fetch_rds_ca.py: what the image build accepts as AWS's RDS CA bundle, with real certificates."""

from __future__ import annotations

import datetime
import hashlib
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCRIPT = Path(__file__).resolve().parents[3] / "docker" / "mlflow" / "fetch_rds_ca.py"


@pytest.fixture(scope="module")
def fetch() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_rds_ca", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _name(cn: str, org: str = "Amazon Web Services, Inc.", unit: str = "Amazon RDS") -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "WA"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Seattle"),
        ]
    )


def _ca(
    subject: x509.Name, issuer: x509.Name | None = None, key: ec.EllipticCurvePrivateKey | None = None
) -> bytes:
    own = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer or subject)
        .public_key(own.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key or own, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def test_a_bundle_of_rds_roots_and_subordinates_is_accepted(fetch: ModuleType) -> None:
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Amazon RDS eu-west-1 Root CA ECC384 G1")
    bundle = (
        _ca(root_name, key=root_key)
        + _ca(_name("Amazon RDS eu-west-1 Subordinate CA ECC384 G1.A.1"), issuer=root_name, key=root_key)
        + _ca(_name("Amazon RDS us-east-1 Root CA RSA2048 G1"))
    )
    assert fetch.problems(bundle) == []
    assert fetch.problems(bundle, hashlib.sha256(bundle).hexdigest()) == []


def test_a_certificate_of_anyone_else_is_refused(fetch: ModuleType) -> None:
    bundle = _ca(_name("Amazon RDS eu-west-1 Root CA RSA2048 G1")) + _ca(_name("Evil CA", org="Evil Inc."))
    found = fetch.problems(bundle)
    assert any("Evil CA: subject is not O=Amazon Web Services, Inc., OU=Amazon RDS" in p for p in found), (
        found
    )


def test_no_root_garbage_and_a_wrong_pin_are_refused(fetch: ModuleType) -> None:
    root = _name("Amazon RDS eu-west-1 Root CA RSA2048 G1")
    orphan = _ca(_name("Amazon RDS eu-west-1 Subordinate CA RSA2048 G1.A.1"), issuer=root)
    assert fetch.problems(orphan) == ["no self-signed root certificate authority in the bundle"]
    assert fetch.problems(b"<html>Service Unavailable</html>") == ["no PEM certificate in the bundle"]
    assert (
        "does not parse"
        in fetch.problems(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")[0]
    )
    good = _ca(root)
    assert fetch.problems(good, "0" * 64)[0].startswith("sha256 ")


def test_only_https_is_fetched(fetch: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bundle.pem"
    assert fetch.main(["http://truststore.pki.rds.amazonaws.com/global/global-bundle.pem", str(out)]) == 1
    assert "HTTPS only" in capsys.readouterr().err
    assert not out.exists()
    assert fetch.main([]) == 2
