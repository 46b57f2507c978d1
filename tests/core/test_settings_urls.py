"""Settings URLs that would lose data are refused; the rest work where they say (issue 16 #7).

Property-based: URLs built from the pieces that went wrong (`:memory:`, `~`, a query string, a
fragment, NUL, %-escapes, a folder where a file goes, a file where a folder goes, ...). Each
gives a one-line `SettingsError` naming the variable and the value, or a setting that works:
a DuckDB file that keeps a row across connections, a bucket folder that keeps an object, both
where the URL says. Runs in a temporary folder with HOME pointing into it, so relative paths
and `~` stay inside it. Real DuckDB and the real local bucket.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livability.settings import Settings, SettingsError

PIECES = [
    ":memory:", "md:x", "~", "~/", "~nobody-here/", "/", "//", "?mode=ro", "#frag", "\x00",
    "\n", " ", ".", "..", "%20", "%ff", "%3F", "a", "w.duckdb", "dir/", "file", "tmp/",
]  # fmt: skip
SCHEMES = ["duckdb://", "file://", "gs://", "bigquery://", "", "DUCKDB://", "duckdb:"]
urls = st.builds(
    lambda scheme, parts: scheme + "".join(parts),
    st.sampled_from(SCHEMES),
    st.lists(st.sampled_from(PIECES), max_size=5),
)
URLS = settings(
    max_examples=80,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder holding a folder `dir` and a file `file`; HOME is `home` in it."""
    (tmp_path / "home").mkdir()
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("not a folder")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def refused_in_one_line(variable: str, value: str) -> bool:
    try:
        Settings.from_env({variable: value, "LIVABILITY_HOME": "state"})
    except SettingsError as err:
        text = str(err)
        assert text.startswith(f"{variable}: "), text
        assert "\n" not in text, text
        assert repr(value)[1:12] in text or value[:10] in text, text
        return True
    return False


def inside(path: Path, root: Path) -> bool:
    return (root / path).resolve().is_relative_to(root.resolve())


@URLS
@given(url=urls)
def test_a_warehouse_url_is_refused_in_one_line_or_keeps_rows_where_it_says(
    sandbox: Path, url: str
) -> None:
    if refused_in_one_line("LIVABILITY_WAREHOUSE", url):
        return
    chosen = Settings.from_env({"LIVABILITY_WAREHOUSE": url, "LIVABILITY_HOME": "state"})
    if not chosen.embedded:
        assert url.startswith("bigquery://")
        return
    path = chosen.warehouse_path
    assert inside(path, sandbox), path
    assert not {"?", "#", "\x00"} & set(str(path)), path
    assert not path.parts[0].startswith("~"), path  # expanded, not a folder named `~`
    warehouse = chosen.open_warehouse()
    try:
        warehouse.query("CREATE TABLE IF NOT EXISTS kept (x INTEGER)")
        warehouse.query("INSERT INTO kept VALUES (1)")
    finally:
        warehouse.close()
    again = chosen.open_warehouse()
    try:  # a second connection, as the next command would open it: the row is there
        assert again.query("SELECT count(*) AS n FROM kept").column("n")[0].as_py() >= 1
    finally:
        again.query("DROP TABLE kept")
        again.close()
    assert (sandbox / path).is_file()


@URLS
@given(url=urls)
def test_a_bucket_url_is_refused_in_one_line_or_keeps_objects_where_it_says(
    sandbox: Path, url: str
) -> None:
    if refused_in_one_line("LIVABILITY_BUCKET", url):
        return
    chosen = Settings.from_env({"LIVABILITY_BUCKET": url, "LIVABILITY_HOME": "state"})
    bucket_url = chosen.bucket_url
    if bucket_url.kind == "gs":
        assert bucket_url.bucket
        assert not {"?", "#", "\\"} & set(bucket_url.prefix)
        assert ".." not in bucket_url.prefix.split("/")
        return
    path = chosen.bucket_path
    assert inside(path, sandbox), path
    bucket = chosen.open_bucket()
    bucket.put("probe/x", b"kept")
    assert (sandbox / path / "probe" / "x").read_bytes() == b"kept"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("duckdb://:memory:", "is not a file: DuckDB keeps it in memory or remotely"),
        ("duckdb:///srv/w.duckdb?mode=ro", "has a query string or fragment"),
        ("duckdb://w.duckdb#x", "has a query string or fragment"),
        ("duckdb://dir", "names a folder, not a DuckDB file"),
        ("duckdb://~nobody-here/w.duckdb", "which names no home folder"),
        ("duckdb://w\x00.duckdb", "a path with a control character"),
        ("duckdb:// w.duckdb", "has white space around it or its path"),
        (" duckdb://w.duckdb", "is not duckdb:///PATH or bigquery://PROJECT/DATASET"),
    ],
)
def test_each_warehouse_url_that_would_lose_data_is_refused(
    sandbox: Path, value: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"LIVABILITY_WAREHOUSE": value})
    assert str(raised.value).startswith(f"LIVABILITY_WAREHOUSE: {value!r}")
    assert reason in str(raised.value)


def test_tilde_and_escapes_are_expanded(sandbox: Path) -> None:
    chosen = Settings.from_env(
        {
            "LIVABILITY_WAREHOUSE": "duckdb://~/w%20x.duckdb",
            "LIVABILITY_BUCKET": "file://~/b",
            "LIVABILITY_HOME": "~/state",
        }
    )
    home = Path(os.environ["HOME"])
    assert (chosen.warehouse_path, chosen.bucket_path, chosen.home) == (
        home / "w x.duckdb",
        home / "b",
        home / "state",
    )


def test_a_file_where_the_bucket_folder_goes_is_refused(sandbox: Path) -> None:
    with pytest.raises(SettingsError, match=r"^LIVABILITY_BUCKET: 'file://file' is a file"):
        Settings.from_env({"LIVABILITY_BUCKET": "file://file"})
