"""AES-GCM payload encryption for Temporal: histories hold ciphertext, never personal data."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCODING = b"binary/encrypted"
_KEY_ID = "encryption-key-id"


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    """Parse `kid:base64key,kid2:base64key2`; the first key encrypts, all decrypt (rotation)."""
    keys: list[tuple[str, bytes]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        kid, _, b64 = item.partition(":")
        raw = base64.b64decode(b64)
        if len(raw) not in (16, 24, 32):
            raise ValueError(f"codec key {kid!r} must be 16, 24 or 32 bytes")
        keys.append((kid, raw))
    if not keys:
        raise ValueError("at least one codec key is required")
    return keys


class EncryptionCodec(PayloadCodec):
    """Encrypts every payload with the current key; decrypts with whichever key id it names."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        self._encrypt_kid, key = keys[0]
        self._encryptor = AESGCM(key)
        self._decryptors = {kid: AESGCM(k) for kid, k in keys}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Encrypt payloads (the whole serialized payload, metadata included)."""
        return [self._encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        """Decrypt payloads written by any known key; pass through unencrypted ones."""
        return list(self._decode_all(payloads))

    def _encrypt(self, p: Payload) -> Payload:
        nonce = os.urandom(12)
        data = nonce + self._encryptor.encrypt(nonce, p.SerializeToString(), None)
        return Payload(
            metadata={"encoding": ENCODING, _KEY_ID: self._encrypt_kid.encode()},
            data=data,
        )

    def _decode_all(self, payloads: Iterable[Payload]) -> Iterable[Payload]:
        for p in payloads:
            if p.metadata.get("encoding", b"") != ENCODING:
                yield p
                continue
            kid = p.metadata.get(_KEY_ID, b"").decode()
            aes = self._decryptors.get(kid)
            if aes is None:
                raise ValueError(f"unknown codec key id {kid!r}")
            clear = aes.decrypt(p.data[:12], p.data[12:], None)
            out = Payload()
            out.ParseFromString(clear)
            yield out
