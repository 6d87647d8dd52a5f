"""Does a passphrase open a stack? The check behind `delivery:ciPulumiPassphrase`.

CI decrypts the stack with the passphrase the stack hands it (`ciPulumiPassphrase`, the
`PULUMI_CONFIG_PASSPHRASE` secret of its environments). A wrong value there goes unnoticed
until the first pipeline fails, so the loader checks it against the stack file's
`encryptionsalt` before anything is declared.

Pulumi's passphrase secrets manager (pulumi/pulumi `pkg/secrets/passphrase/manager.go`)
keeps `v1:<base64 salt>:v1:<base64 nonce>:<base64 ciphertext>` there: the word `pulumi`
encrypted with AES-256-GCM under a key derived from the passphrase by PBKDF2-SHA256 with
1,000,000 iterations. A passphrase is right exactly when that decrypts to `pulumi`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# pulumi/pulumi sdk/go/common/resource/config/crypt.go: NewSymmetricCrypterFromPassphrase.
_PBKDF2_ITERATIONS = 1_000_000
_KEY_BYTES = 32
_KNOWN_PLAINTEXT = b"pulumi"


class MalformedSaltError(ValueError):
    """The `encryptionsalt` is not a passphrase secrets manager state Pulumi writes."""


def opens_stack(passphrase: str, encryption_salt: str) -> bool:
    """True when `passphrase` is the passphrase of the stack whose `encryptionsalt` is given."""
    parts = encryption_salt.split(":")
    if len(parts) != 5 or parts[0] != "v1" or parts[2] != "v1":
        raise MalformedSaltError(
            "expected v1:<salt>:v1:<nonce>:<ciphertext>, as `pulumi stack init` writes it"
        )
    try:
        salt, nonce, ciphertext = (base64.b64decode(p, validate=True) for p in (parts[1], parts[3], parts[4]))
    except (binascii.Error, ValueError) as error:
        raise MalformedSaltError(f"not base64: {error}") from None
    key = hashlib.pbkdf2_hmac("sha256", passphrase.encode(), salt, _PBKDF2_ITERATIONS, _KEY_BYTES)
    try:
        # Go's GCM Seal appends the tag to the ciphertext, which is what AESGCM.decrypt expects.
        return AESGCM(key).decrypt(nonce, ciphertext, None) == _KNOWN_PLAINTEXT
    except (InvalidTag, ValueError):
        return False
