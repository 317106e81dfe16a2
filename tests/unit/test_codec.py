"""AES-GCM payload codec: roundtrip, key rotation, unknown key, tampering."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidTag
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter

from ville.codec import ENCODING, EncryptionCodec, parse_keys


def _key(kid: str, seed: bytes) -> str:
    return f"{kid}:{base64.b64encode(seed.ljust(32, b'.')[:32]).decode()}"


OLD = _key("k2026", b"old-key")
NEW = _key("k2027", b"new-key")
CLEAR = Payload(metadata={"encoding": b"json/plain"}, data=b'{"famille": "Dupont", "montant_cents": 12345}')


async def test_roundtrip_hides_the_clear_payload() -> None:
    codec = EncryptionCodec(parse_keys(OLD))
    [encrypted] = await codec.encode([CLEAR])
    assert encrypted.metadata["encoding"] == ENCODING
    assert encrypted.metadata["encryption-key-id"] == b"k2026"
    assert b"Dupont" not in encrypted.SerializeToString()
    assert await codec.decode([encrypted]) == [CLEAR]


async def test_encryption_is_randomised() -> None:
    codec = EncryptionCodec(parse_keys(OLD))
    first, second = await codec.encode([CLEAR, CLEAR])
    assert first.data != second.data


async def test_rotation_new_key_first_still_decrypts_old_payloads() -> None:
    [written_before] = await EncryptionCodec(parse_keys(OLD)).encode([CLEAR])
    rotated = EncryptionCodec(parse_keys(f"{NEW},{OLD}"))
    assert await rotated.decode([written_before]) == [CLEAR]
    [written_after] = await rotated.encode([CLEAR])
    assert written_after.metadata["encryption-key-id"] == b"k2027"
    assert await rotated.decode([written_after]) == [CLEAR]


async def test_unknown_key_id_is_an_error() -> None:
    [written_with_new] = await EncryptionCodec(parse_keys(NEW)).encode([CLEAR])
    with pytest.raises(ValueError, match="k2027"):
        await EncryptionCodec(parse_keys(OLD)).decode([written_with_new])


async def test_tampered_ciphertext_is_an_error() -> None:
    codec = EncryptionCodec(parse_keys(OLD))
    [encrypted] = await codec.encode([CLEAR])
    flipped = bytearray(encrypted.data)
    flipped[-1] ^= 0x01
    tampered = Payload(metadata=dict(encrypted.metadata), data=bytes(flipped))
    with pytest.raises(InvalidTag):
        await codec.decode([tampered])


async def test_key_id_cannot_be_swapped_to_another_key() -> None:
    codec = EncryptionCodec(parse_keys(f"{NEW},{OLD}"))
    [encrypted] = await codec.encode([CLEAR])
    relabelled = Payload(metadata={**encrypted.metadata, "encryption-key-id": b"k2026"}, data=encrypted.data)
    with pytest.raises(InvalidTag):
        await codec.decode([relabelled])


async def test_unencrypted_payloads_pass_through() -> None:
    codec = EncryptionCodec(parse_keys(OLD))
    assert await codec.decode([CLEAR]) == [CLEAR]


async def test_the_project_converter_encrypts_values() -> None:
    from ville.settings import Settings
    from ville.temporal import data_converter

    converter: DataConverter = data_converter(Settings(env="test", _env_file=None))
    [payload] = await converter.encode(["données personnelles"])
    assert payload.metadata["encoding"] == ENCODING
    assert await converter.decode([payload]) == ["données personnelles"]


@pytest.mark.parametrize("spec", ["", " , ", "k:" + base64.b64encode(b"short").decode()])
def test_bad_key_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_keys(spec)
