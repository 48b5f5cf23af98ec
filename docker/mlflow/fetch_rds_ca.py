"""Fetch AWS's RDS CA bundle when the MLflow image is built, and refuse anything that is not one.

    python fetch_rds_ca.py URL OUT [SHA256]

The bundle changes whenever AWS adds a certificate authority (a new region, a new root), so a checksum pinned
in the repository goes stale and would break every image build; what must hold is that the file comes from
AWS over verified HTTPS (urllib verifies the server's certificate and name) and that every certificate in it is
an RDS certificate authority: subject and issuer both ``O=Amazon Web Services, Inc.``, ``OU=Amazon RDS``, with at
least one self-signed root. ``SHA256`` (the image's ``RDS_CA_BUNDLE_SHA256`` build argument) pins the exact file
as well, for builds that must be reproducible. Exit 0 and the bundle written to OUT, or exit 1 with the reason.
Standard library only: it runs in the build stage before anything is installed.
"""

from __future__ import annotations

import hashlib
import ssl
import sys
import urllib.request

ORGANIZATION = "Amazon Web Services, Inc."
UNIT = "Amazon RDS"
MIN_CERTIFICATES = 1


def _names(rdn: tuple[tuple[tuple[str, str], ...], ...]) -> dict[str, str]:
    return {key: value for part in rdn for key, value in part}


def problems(data: bytes, pinned: str = "") -> list[str]:
    """Why ``data`` is not an RDS CA bundle (empty when it is one)."""
    if pinned:
        actual = hashlib.sha256(data).hexdigest()
        if actual != pinned.lower():
            return [f"sha256 {actual} is not the pinned {pinned}"]
    blocks = data.count(b"-----BEGIN CERTIFICATE-----")
    if blocks < MIN_CERTIFICATES:
        return ["no PEM certificate in the bundle"]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_verify_locations(cadata=data.decode("ascii"))
    except (ssl.SSLError, UnicodeDecodeError, ValueError) as err:
        return [f"the bundle does not parse as PEM certificates: {err}"]
    certificates = context.get_ca_certs()
    found: list[str] = []
    if len(certificates) != blocks:
        found.append(f"{blocks} PEM blocks but {len(certificates)} certificate authorities loaded")
    roots = 0
    for cert in certificates:
        subject, issuer = _names(cert["subject"]), _names(cert["issuer"])
        label = subject.get("commonName", "?")
        for role, names in (("subject", subject), ("issuer", issuer)):
            if names.get("organizationName") != ORGANIZATION or names.get("organizationalUnitName") != UNIT:
                found.append(f"{label}: {role} is not O={ORGANIZATION}, OU={UNIT} ({names})")
        roots += cert["subject"] == cert["issuer"]
    if not roots:
        found.append("no self-signed root certificate authority in the bundle")
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    url, out = argv[0], argv[1]
    pinned = argv[2] if len(argv) == 3 else ""
    if not url.startswith("https://"):
        print(f"refusing {url}: the bundle is fetched over HTTPS only", file=sys.stderr)
        return 1
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    found = problems(data, pinned)
    if found:
        print(f"{url} is not an RDS CA bundle:", *found, sep="\n  ", file=sys.stderr)
        return 1
    with open(out, "wb") as handle:
        handle.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
