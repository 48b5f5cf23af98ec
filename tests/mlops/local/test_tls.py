"""mlops_platform.mlops.local.tls: the run's CA and the database server's certificate it signs."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography import x509

from mlops_platform.mlops.local.tls import LocalCA


def test_server_certificate_names_the_hosts_and_is_signed_by_the_ca(tmp_path: Path) -> None:
    ca = LocalCA.create(tmp_path / "ca", name="unit CA")
    assert ca.ca_file.stat().st_mode & 0o777 == 0o644
    ca.issue_server_certificate(tmp_path, ("127.0.0.1", "localhost"), None, None)
    cert = x509.load_pem_x509_certificate((tmp_path / "server.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.issuer == ca.cert.subject
    cert.verify_directly_issued_by(ca.cert)
    for name in ("server.crt", "server.key"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
