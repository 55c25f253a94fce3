"""X.509 material as MAAS makes and checks it for the LXD power driver.

* ``generate``: ``maasserver/utils/certificates.py::generate_certificate`` calls
  ``provisioningserver/certificates.py::Certificate.generate(cn=maas_name, organization_name="MAAS",
  organizational_unit_name=<MAAS uuid>)``: a 4096-bit RSA key, subject ``CN=<maas_name>`` (64
  characters at most), O and OU set on the *issuer* only, a random 128-bit serial, valid from now
  for 3650 days, signed with its own key (SHA-512); PEM certificate and unencrypted PKCS#8 key.
  MAAS writes an X.509 v1 certificate (pyOpenSSL); the ``cryptography`` library writes v3, the
  only difference.
* ``check_pair``: ``Certificate.from_pem(certificate, key)`` as the driver's ``_get_cert_paths``
  calls it: both read from the certificate and the key joined by a newline; an encrypted key is
  ``Private key can't have a passphrase``, unreadable material ``Invalid PEM material``; then
  ``_check_key_match`` signs random bytes with PKCS#1 v1.5/SHA-512 and verifies them with the
  certificate's public key (``Private and public keys don't match``). That signing call only
  exists for RSA keys: an EC or Ed25519 key raises the ``TypeError`` of the ``sign`` call, which
  the driver does not catch.
"""

from __future__ import annotations

import datetime
import secrets

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

KEY_BITS = 4096
VALIDITY = datetime.timedelta(days=3650)


class CertificateError(Exception):
    """``provisioningserver.certificates.CertificateError``."""


def generate(cn: str, organization: str, unit: str) -> tuple[str, str]:
    """``(certificate_pem, key_pem)`` of a new self-signed certificate, as ``Certificate.generate`` makes it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    now = datetime.datetime.now(datetime.timezone.utc)
    issuer = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization[:64]),
                        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit[:64])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn[:64])]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(secrets.randbits(128) or 1)
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .sign(key, hashes.SHA512())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return cert_pem, key_pem


def check_pair(certificate: str, key: str) -> None:
    """Raise ``CertificateError`` (or the ``TypeError`` of a non-RSA key) as ``Certificate.from_pem`` does."""
    material = ("\n".join((certificate, key))).encode()
    try:
        private_key = serialization.load_pem_private_key(material, password=None)
    except TypeError:
        raise CertificateError("Private key can't have a passphrase") from None
    except ValueError:
        raise CertificateError("Invalid PEM material") from None
    try:
        public_key = x509.load_pem_x509_certificate(material).public_key()
    except ValueError:
        raise CertificateError("Invalid PEM material") from None
    data = secrets.token_bytes()
    signature = private_key.sign(data, padding.PKCS1v15(), hashes.SHA512())  # TypeError for non-RSA keys, as in MAAS
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA512())
    except InvalidSignature:  # only this one: an RSA key with a non-RSA certificate is a TypeError, as in MAAS
        raise CertificateError("Private and public keys don't match") from None
