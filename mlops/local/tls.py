"""A certificate authority made for one run, and the database server's certificate it signs.

It stands in for AWS's RDS CA bundle, so the connection URI's ``sslmode=verify-full`` is exercised unchanged.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _validity(builder: Any) -> Any:
    """A certificate valid from five minutes ago for one day (a run is never longer)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return builder.not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(
        now + datetime.timedelta(days=1)
    )


def _ca_key_usage() -> Any:
    from cryptography import x509

    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _subject_alternative_names(hosts: tuple[str, ...]) -> Any:
    """DNS names and IP addresses: what ``verify-full`` checks the host connected to against."""
    from cryptography import x509

    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


@dataclass(frozen=True)
class LocalCA:
    """A certificate authority made for one run: what stands in for AWS's RDS CA bundle (``ca_file``)."""

    key: Any
    cert: Any
    ca_file: Path

    @classmethod
    def create(cls, directory: Path, name: str = "mlops local test CA") -> LocalCA:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
        )
        cert = (
            _validity(builder)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .sign(key, hashes.SHA256())
        )
        directory.mkdir(mode=0o755, parents=True, exist_ok=True)
        ca_file = directory / "ca.pem"
        ca_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        ca_file.chmod(0o644)
        return cls(key=key, cert=cert, ca_file=ca_file)

    def issue_server_certificate(
        self, directory: Path, hosts: tuple[str, ...], uid: int | None, gid: int | None
    ) -> None:
        """server.crt and server.key (0600, owned by the server's user), signed by this CA, naming ``hosts``
        (DNS names and IP addresses): what ``verify-full`` checks the host connected to against."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
        )
        cert = (
            _validity(builder)
            .add_extension(_subject_alternative_names(hosts), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        key_path, cert_path = directory / "server.key", directory / "server.crt"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        for path in (key_path, cert_path):
            path.chmod(0o600)
            if uid is not None and gid is not None:
                os.chown(path, uid, gid)
