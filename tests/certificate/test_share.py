"""Sharing one certificate by a V4 signed URL: `GCSBucket.signed_url` (the SignedBucket port).

Runs against: a real `gcp-storage-emulator` process on 127.0.0.1 with the real
google-cloud-storage client, and at the wire boundary for the signature. The stand-in does
not check signatures (../shared/EMULATORS.md), so the test checks the URL itself: it
rebuilds Google's V4 canonical request and string to sign from the URL (cloud.google.com/
storage/docs/authentication/signatures) and verifies the RSA signature with the public half
of a service-account key made here. The stand-in then serves the object at that URL.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client
from google.oauth2 import service_account

from livability.adapters.gcs import GCSBucket
from livability.cli.app import main
from livability.ports import BucketError, ObjectNotFoundError
from tools.storage_emulator import StorageEmulator, storage_emulator

KEY = "certificates/2025-01-13/3.html"
PAGE = b"<!DOCTYPE html><title>Home 3</title>"
SIGNER = "certificates@livability-test.iam.gserviceaccount.com"
_names = (f"share-{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageEmulator]:
    with storage_emulator(tmp_path_factory.mktemp("storage-emulator")) as running:
        yield running


@pytest.fixture(scope="module")
def private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signer(key: rsa.RSAPrivateKey) -> service_account.Credentials:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    info = {
        "type": "service_account",
        "client_email": SIGNER,
        "private_key": pem,
        "private_key_id": "test",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return service_account.Credentials.from_service_account_info(info)  # type: ignore[no-untyped-call]


def new_bucket(emulator: StorageEmulator) -> str:
    name = next(_names)
    client = Client(
        project="test-proj",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator.host},
    )
    try:
        client.create_bucket(name)
    finally:
        client.close()
    return name


def verify_v4(url: str, key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The URL's query, after checking its signature as Cloud Storage would."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items())
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{parts.netloc}", "", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key.public_key().verify(signature, to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return query


def test_signed_url_verifies_and_serves_the_certificate(
    emulator: StorageEmulator, private_key: rsa.RSAPrivateKey
) -> None:
    name = new_bucket(emulator)
    bucket = GCSBucket(name, emulator=emulator.host, signer=signer(private_key))
    try:
        bucket.put(KEY, PAGE, "text/html; charset=utf-8")
        url = bucket.signed_url(KEY, timedelta(hours=72))
    finally:
        bucket.close()
    assert url.startswith(f"{emulator.host}/{name}/{KEY}?")
    query = verify_v4(url, private_key)
    assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
    assert query["X-Goog-Expires"] == str(72 * 3600)
    assert query["X-Goog-Credential"].startswith(f"{SIGNER}/")
    assert query["X-Goog-SignedHeaders"] == "host"
    # A tampered URL does not verify.
    with pytest.raises(InvalidSignature):
        verify_v4(url.replace("3.html", "4.html"), private_key)
    served = requests.get(url, timeout=10)
    assert served.status_code == 200
    assert served.content == PAGE


def test_signing_refuses_what_cannot_be_shared(
    emulator: StorageEmulator, private_key: rsa.RSAPrivateKey
) -> None:
    name = new_bucket(emulator)
    bucket = GCSBucket(name, emulator=emulator.host, signer=signer(private_key))
    anonymous = GCSBucket(name, emulator=emulator.host)
    try:
        with pytest.raises(ObjectNotFoundError, match=f"no object {KEY} in gs://{name}"):
            bucket.signed_url(KEY, timedelta(hours=1))
        bucket.put(KEY, PAGE)
        with pytest.raises(ValueError, match=r"expires: 8 days, 0:00:00 is not within"):
            bucket.signed_url(KEY, timedelta(days=8))
        with pytest.raises(BucketError, match="these credentials cannot sign"):
            anonymous.signed_url(KEY, timedelta(hours=1))
    finally:
        bucket.close()
        anonymous.close()


def test_cli_share_says_when_the_credentials_cannot_sign(
    emulator: StorageEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = new_bucket(emulator)
    put = GCSBucket(name, emulator=emulator.host)
    try:
        put.put(KEY, PAGE)
    finally:
        put.close()
    monkeypatch.setenv("LIVABILITY_HOME", str(tmp_path))
    monkeypatch.setenv("LIVABILITY_BUCKET", f"gs://{name}")
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
    argv = ["certificate", "--week", "2025-01-13", "--home", "3", "--share"]
    assert main(argv) == 1  # the stand-in's anonymous credentials hold no key
    assert "these credentials cannot sign" in capsys.readouterr().err
    assert main([*argv[:4], "4", "--share"]) == 1
    assert f"no object certificates/2025-01-13/4.html in gs://{name}" in capsys.readouterr().err
