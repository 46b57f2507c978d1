"""`--out` of `export` and `report` (livability/cli/outfile.py, issue 16 #3): nothing that is
not a regular file is replaced or written through, a folder gets the default name inside it,
`-` is stdout on purpose. Real files, links, FIFOs and devices in a temporary folder.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livability.cli import outfile
from livability.cli.app import main
from livability.cli.common import CliError
from livability.settings import Settings


def write(target: outfile.Target, data: bytes) -> None:
    with outfile.writing(target) as sink:
        sink.write(data)


def test_a_new_file_and_an_existing_regular_file_are_written_whole(tmp_path: Path) -> None:
    new = outfile.resolve(str(tmp_path / "a.csv"), "d.csv")
    write(new, b"x\n")
    old = tmp_path / "b.csv"
    old.write_bytes(b"old")
    write(outfile.resolve(str(old), "d.csv"), b"new\n")
    assert ((tmp_path / "a.csv").read_bytes(), old.read_bytes()) == (b"x\n", b"new\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "b.csv"]  # no temp left


def test_a_folder_gets_the_default_name_inside_it(tmp_path: Path) -> None:
    target = outfile.resolve(str(tmp_path), "report-1-2024-12-02.png", suffixes=(".png",))
    assert target.path == tmp_path / "report-1-2024-12-02.png"
    target = outfile.resolve(str(tmp_path / "new") + "/", "x.csv")
    write(target, b"1")
    assert (tmp_path / "new" / "x.csv").read_bytes() == b"1"


def refused(path: Path, kind: str) -> str:
    return (
        f"--out {path}: {kind}, not a regular file: not replaced; give a file name (or - for "
        "stdout)"
    )


def test_a_link_is_refused_and_neither_it_nor_its_target_changes(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    with pytest.raises(CliError) as caught:
        outfile.resolve(str(link), "d.csv")
    assert str(caught.value) == refused(link, "a symbolic link")
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(CliError):
        outfile.resolve(str(dangling), "d.csv")
    assert (victim.read_bytes(), link.is_symlink(), (tmp_path / "nowhere").exists()) == (
        b"keep",
        True,
        False,
    )


def test_a_link_to_a_folder_is_not_taken_for_the_folder(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    with pytest.raises(CliError) as caught:
        outfile.resolve(str(tmp_path / "linked"), "d.csv")
    assert "a symbolic link" in str(caught.value)


def test_a_fifo_and_a_device_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(CliError) as caught:
        outfile.resolve(str(fifo), "d.csv")
    assert str(caught.value) == refused(fifo, "a FIFO")
    with pytest.raises(CliError) as caught:
        outfile.resolve("/dev/full", "d.csv")
    assert str(caught.value) == refused(Path("/dev/full"), "a character device")


def test_a_link_put_in_place_while_writing_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    target = outfile.resolve(str(out), "d.csv")

    def swap_in_a_link() -> None:
        with outfile.writing(target) as sink:
            sink.write(b"data")
            out.symlink_to(victim)

    with pytest.raises(CliError):
        swap_in_a_link()
    assert (out.is_symlink(), victim.read_bytes()) == (True, b"keep")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "victim"]


def test_stdout_is_written_on_purpose(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    target = outfile.resolve("-", "d.csv")
    assert (target.path, target.shown) == (None, "stdout")
    write(target, b"a,b\n")
    assert capfdbinary.readouterr().out == b"a,b\n"


@pytest.mark.parametrize("name", ["x.txt", "report", "x.png.gz"])
def test_report_refuses_a_name_that_is_not_a_png_in_one_line(
    settings: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    text = str(tmp_path / name)
    assert main(["report", "--home", "1", "--week", "2024-12-02", "--out", text]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: --out {text}: the file is .png; give a name ending so, a folder, "
        "or - for stdout\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_export_refuses_a_device_in_one_line_and_leaves_it(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = Path("/dev/null").stat()
    args = ["--table", "sensor_thermo_beacon", "--from", "2024-12-02", "--to", "2024-12-08"]
    assert main(["export", *args, "--format", "csv", "--out", "/dev/null"]) == 1
    assert capsys.readouterr().err == (
        f"livability: error: {refused(Path('/dev/null'), 'a character device')}\n"
    )
    after = Path("/dev/null").stat()
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)


# --- a property suite over --out (issue 16: "CLI paths") -------------------------------------

KINDS = ("absent", "file", "folder", "link_file", "link_folder", "dangling", "fifo", "device")
names = st.text(
    st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12
).filter(lambda name: name not in (".", ".."))


def _make(base: Path, kind: str, name: str) -> Path:
    """`base/name` as a `kind` of thing; a victim file outside holds what must not change."""
    path = base / name
    victim = base.parent / "victim"
    if kind == "file":
        path.write_bytes(b"old")
    elif kind == "folder":
        path.mkdir()
    elif kind == "link_file":
        path.symlink_to(victim)
    elif kind == "link_folder":
        path.symlink_to(victim.parent)
    elif kind == "dangling":
        path.symlink_to(base.parent / "nowhere")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "device":
        return Path("/dev/null")
    return path


@settings(max_examples=60)
@given(
    kind=st.sampled_from(KINDS),
    name=names,
    slash=st.booleans(),
    suffixes=st.sampled_from([(), (".png",)]),
)
def test_out_never_replaces_or_writes_through_what_is_not_a_regular_file(
    kind: str, name: str, slash: bool, suffixes: tuple[str, ...]
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder) / "work"
        base.mkdir()
        (Path(folder) / "victim").write_bytes(b"keep")
        path = _make(base, kind, name)
        before = path.lstat() if path.is_symlink() or path.exists() else None
        text = str(path) + ("/" if slash else "")
        refusal: CliError | None = None
        try:
            target = outfile.resolve(text, "default.png", suffixes=suffixes)
            write(target, b"new")
        except CliError as caught:
            refusal = caught
        if refusal is not None:
            assert "\n" not in str(refusal)
            assert target_unchanged(path, before)
        else:
            assert target.path is not None
            assert target.path.lstat().st_mode & 0o170000 == 0o100000  # a regular file
            assert target.path.read_bytes() == b"new"
            if kind == "folder" or slash:
                assert target.path.parent == path
            else:
                assert kind in ("absent", "file")
        assert (Path(folder) / "victim").read_bytes() == b"keep"
        assert not list(Path(folder).rglob("*.tmp"))


def target_unchanged(path: Path, before: os.stat_result | None) -> bool:
    if before is None:
        return not path.is_symlink() and not path.exists()
    after = path.lstat()
    return (after.st_ino, after.st_mode, after.st_size) == (
        before.st_ino,
        before.st_mode,
        before.st_size,
    )
