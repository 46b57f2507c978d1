"""One contract for every bucket adapter: the same tests against each backend.

Runs against the embedded `LocalBucket` (a temporary folder) and `GCSBucket` with the real
google-cloud-storage client talking to a real `gcp-storage-emulator` process, started once
for this module on a free port of 127.0.0.1 and stopped after it. The stand-in does not
check credentials, IAM, retention or generation preconditions (../shared/EMULATORS.md).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud.storage import Client

from livability.adapters.gcs import GCSBucket
from livability.adapters.local_bucket import LocalBucket
from livability.ports import Bucket, BucketError, ObjectNotFoundError
from tools.storage_emulator import StorageEmulator, free_port, storage_emulator

# Every byte value, CR/LF and NUL: nothing may be decoded or translated on the way.
BINARY = bytes(range(256)) * 3 + b"\r\n\x00\r"
NDJSON = b'{"home_id": 1, "score": 71.5}\n{"home_id": 2, "score": 64.0}\n'
ESCAPING_KEYS = ["", "/etc/passwd", "../outside", "scores/../../x", "./a", "a//b", "a\\b", "a\x00b"]
_bucket_names = (f"contract-{n}" for n in itertools.count(1))


@dataclass
class Backend:
    """How to get buckets of one adapter that share storage, and one that cannot reach it."""

    name: str
    make: Callable[[str], Bucket]  # a bucket under a prefix ("" for the whole store)
    make_unavailable: Callable[[], Bucket]
    opened: list[Bucket] = field(default_factory=list)

    def bucket(self, prefix: str = "") -> Bucket:
        self.opened.append(self.make(prefix))
        return self.opened[-1]

    def unavailable(self) -> Bucket:
        self.opened.append(self.make_unavailable())
        return self.opened[-1]

    def close(self) -> None:
        for bucket in self.opened:
            bucket.close()


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StorageEmulator]:
    with storage_emulator(tmp_path_factory.mktemp("storage-emulator")) as running:
        yield running


def _emulator_client(emulator: StorageEmulator) -> Client:
    return Client(
        project="test-proj",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options={"api_endpoint": emulator.host},
    )


def _local(tmp_path: Path) -> Backend:
    root = tmp_path / "bucket"
    blocker = tmp_path / "not-a-folder"
    blocker.write_bytes(b"")  # a bucket root below a file can be neither read nor written
    return Backend(
        "local",
        lambda prefix: LocalBucket(root / prefix if prefix else root),
        lambda: LocalBucket(blocker / "bucket"),
    )


def _gcs(emulator: StorageEmulator) -> Backend:
    name = next(_bucket_names)  # a fresh bucket per test: no state carries over
    client = _emulator_client(emulator)
    try:
        client.create_bucket(name)
    finally:
        client.close()
    return Backend(
        "gcs",
        lambda prefix: GCSBucket(name, prefix, emulator=emulator.host, retry_deadline=10.0),
        # Nothing listens on a fresh free port: every request is refused.
        lambda: GCSBucket(
            name, emulator=f"http://127.0.0.1:{free_port()}", timeout=2.0, retry_deadline=0.5
        ),
    )


@pytest.fixture(params=["local", "gcs"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "local":
        chosen = _local(tmp_path)
    else:
        chosen = _gcs(request.getfixturevalue("emulator"))
    try:
        yield chosen
    finally:
        chosen.close()


def test_put_then_get_returns_the_same_bytes(backend: Backend) -> None:
    bucket = backend.bucket()
    uri = bucket.put("archive/2024-12-01/raw.bin", BINARY)
    bucket.put("scores/2024-12-01/scores.ndjson", NDJSON, "application/x-ndjson")
    bucket.put("empty", b"")
    assert uri == f"{bucket.url}/archive/2024-12-01/raw.bin"
    assert bucket.get("archive/2024-12-01/raw.bin") == BINARY
    assert bucket.get("scores/2024-12-01/scores.ndjson") == NDJSON
    assert bucket.get("empty") == b""


def test_put_replaces_the_object(backend: Backend) -> None:
    bucket = backend.bucket()
    bucket.put("scores/latest.ndjson", NDJSON)
    bucket.put("scores/latest.ndjson", b"replaced\n")
    assert bucket.get("scores/latest.ndjson") == b"replaced\n"
    assert bucket.list() == ["scores/latest.ndjson"]


def test_list_gives_the_keys_under_a_prefix_sorted(backend: Backend) -> None:
    bucket = backend.bucket()
    for key in [
        "scores/2024-12-08/scores.ndjson",
        "archive/2024-12-01/x.gz",
        "scores/2024-12-01/scores.ndjson",
        "scores/2024-12-01/a.ndjson",
    ]:
        bucket.put(key, b"x")
    assert bucket.list("scores/") == [
        "scores/2024-12-01/a.ndjson",
        "scores/2024-12-01/scores.ndjson",
        "scores/2024-12-08/scores.ndjson",
    ]
    assert bucket.list("scores/2024-12-0") == bucket.list("scores/")  # a string prefix
    assert bucket.list() == ["archive/2024-12-01/x.gz", *bucket.list("scores/")]
    assert bucket.list("nothing/") == []


def test_an_empty_bucket_lists_nothing(backend: Backend) -> None:
    assert backend.bucket().list() == []


def test_a_missing_key_is_object_not_found(backend: Backend) -> None:
    bucket = backend.bucket()
    bucket.put("scores/2024-12-01/scores.ndjson", NDJSON)
    with pytest.raises(ObjectNotFoundError, match=r"no object scores/2024-12-08/scores\.ndjson"):
        bucket.get("scores/2024-12-08/scores.ndjson")


@pytest.mark.parametrize("key", ESCAPING_KEYS)
def test_keys_that_leave_the_bucket_are_refused(backend: Backend, key: str) -> None:
    bucket = backend.bucket("pre")
    with pytest.raises(ValueError, match="must be a relative path"):
        bucket.put(key, b"x")
    with pytest.raises(ValueError, match="must be a relative path"):
        bucket.get(key)
    assert backend.bucket().list() == []  # nothing was written anywhere


def test_a_bucket_prefix_holds_its_keys_apart(backend: Backend) -> None:
    whole, inner = backend.bucket(), backend.bucket("pre/fix")
    assert inner.put("a/x.gz", b"inner") == f"{inner.url}/a/x.gz"
    whole.put("a/x.gz", b"outside")
    whole.put("pre/other", b"beside")
    assert inner.list() == ["a/x.gz"]
    assert inner.list("a/") == ["a/x.gz"]
    assert inner.get("a/x.gz") == b"inner"
    assert whole.get("pre/fix/a/x.gz") == b"inner"
    assert whole.list() == ["a/x.gz", "pre/fix/a/x.gz", "pre/other"]
    with pytest.raises(ObjectNotFoundError):
        inner.get("other")


def test_an_unreachable_backend_is_a_bucket_error(backend: Backend) -> None:
    bucket = backend.unavailable()
    with pytest.raises(BucketError) as put_error:
        bucket.put("a/x.gz", b"x")
    with pytest.raises(BucketError) as get_error:
        bucket.get("a/x.gz")
    # A failure to reach the store is not "no such object": the caller must retry later.
    assert not isinstance(get_error.value, ObjectNotFoundError)
    assert "a/x.gz" in str(put_error.value)
    assert "a/x.gz" in str(get_error.value)


def test_listing_an_unreachable_backend_is_a_bucket_error(backend: Backend) -> None:
    bucket = backend.unavailable()
    with pytest.raises(BucketError, match="a/"):
        bucket.list("a/")


# Cloud Storage only: what the port cannot express.


def test_gcs_url_and_object_names_follow_the_bucket_url(emulator: StorageEmulator) -> None:
    backend = _gcs(emulator)
    try:
        inner = backend.bucket("pre/fix/")
        whole = backend.bucket()
        assert whole.url == f"gs://{_name(whole)}"
        assert inner.url == f"gs://{_name(whole)}/pre/fix"
        assert inner.put("scores/s.ndjson", NDJSON, "application/x-ndjson") == (
            f"gs://{_name(whole)}/pre/fix/scores/s.ndjson"
        )
        client = _emulator_client(emulator)
        try:
            blob = client.bucket(_name(whole)).get_blob("pre/fix/scores/s.ndjson")
        finally:
            client.close()
        assert blob is not None
        assert (blob.name, blob.content_type, blob.size) == (
            "pre/fix/scores/s.ndjson",
            "application/x-ndjson",
            len(NDJSON),
        )
    finally:
        backend.close()


@pytest.mark.parametrize("prefix", ["../up", "a/../b", "a//b"])
def test_gcs_refuses_a_prefix_that_leaves_the_bucket(prefix: str) -> None:
    with pytest.raises(ValueError, match="must be a relative path"):
        GCSBucket("b", prefix, emulator="http://127.0.0.1:1")


def test_gcs_missing_bucket_is_a_bucket_error(emulator: StorageEmulator) -> None:
    bucket = GCSBucket("never-created", emulator=emulator.host, retry_deadline=5.0)
    try:
        with pytest.raises(BucketError, match="gs://never-created") as error:
            bucket.list()
        assert type(error.value) is BucketError
    finally:
        bucket.close()


def test_gcs_creates_no_client_until_used() -> None:
    bucket = GCSBucket("b", emulator="http://127.0.0.1:1")
    assert bucket._client is None
    bucket.close()


def _name(bucket: Bucket) -> str:
    assert isinstance(bucket, GCSBucket)
    return bucket.bucket
