import io
import tarfile

import pytest

from hw2.core.archive import check_member, safe_extract
from hw2.core.errors import DataError


def _file(name: str, data: bytes = b"data") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info, None


def _special(name: str, kind: bytes):
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def _make_tar(path, members, mode="w:bz2"):
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


GOOD = [_file("top/a.txt", b"alpha"), _file("top/sub/b.txt", b"beta")]


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (_file("../evil.txt"), "'..'"),
        (_file("top/../../evil.txt"), "'..'"),
        (_file("/abs/evil.txt"), "absolute"),
        (_link("top/escape", "../../etc"), "outside"),
        (_link("top/abs-link", "/etc/passwd"), "absolute"),
        (_link("top/hard", "../outside.txt", tarfile.LNKTYPE), "outside"),
        (_special("top/dev", tarfile.CHRTYPE), "device"),
        (_special("top/fifo", tarfile.FIFOTYPE), "device"),
    ],
)
def test_unsafe_member_is_refused_and_nothing_is_extracted(tmp_path, bad, reason):
    # the bad member comes last: good members before it must not land either
    archive = _make_tar(tmp_path / "a.tar.bz2", [*GOOD, bad])
    dest = tmp_path / "out" / "data"
    with pytest.raises(DataError, match=reason) as err:
        safe_extract(archive, dest, progress=False)
    assert repr(bad[0].name) in str(err.value)
    assert not dest.exists()
    assert list((tmp_path / "out").iterdir()) == []  # no temporary folder left
    assert not (tmp_path / "evil.txt").exists()


def test_links_are_resolved_from_the_right_folder():
    # a symlink resolves from its own folder, a hard link from the archive root
    check_member(_link("top/sub/link", "../a.txt")[0])
    with pytest.raises(DataError, match="outside"):
        check_member(_link("top/hard", "../a.txt", tarfile.LNKTYPE)[0])


def test_safe_archive_extracts_its_root_folder_atomically(tmp_path):
    members = [*GOOD, _link("top/sub/link", "../a.txt")]
    archive = _make_tar(tmp_path / "a.tar.bz2", members)
    dest = tmp_path / "out" / "data"
    dest.mkdir(parents=True)
    (dest / "stale.txt").write_text("old")
    assert safe_extract(archive, dest, root="top", progress=False) == dest
    assert (dest / "a.txt").read_bytes() == b"alpha"
    assert (dest / "sub" / "b.txt").read_bytes() == b"beta"
    assert (dest / "sub" / "link").read_bytes() == b"alpha"
    assert not (dest / "stale.txt").exists()  # replaced, not merged
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data"]


def test_failed_check_keeps_the_previous_folder(tmp_path):
    archive = _make_tar(tmp_path / "a.tar", GOOD, mode="w")
    dest = tmp_path / "data"
    dest.mkdir()
    (dest / "keep.txt").write_text("old")

    def check(folder):
        raise DataError(f"{folder.name}: not what we wanted")

    with pytest.raises(DataError, match="not what we wanted"):
        safe_extract(archive, dest, root="top", check=check, progress=False)
    assert (dest / "keep.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar", "data"]


def test_missing_root_folder_is_an_error(tmp_path):
    archive = _make_tar(tmp_path / "a.tar.bz2", GOOD)
    with pytest.raises(DataError, match="no folder 'LJSpeech-1.1'"):
        safe_extract(archive, tmp_path / "data", root="LJSpeech-1.1", progress=False)


def test_not_a_tar_and_truncated_tar_are_clear_errors(tmp_path):
    junk = tmp_path / "junk.tar.bz2"
    junk.write_bytes(b"this is not an archive" * 10)
    with pytest.raises(DataError, match="junk.tar.bz2"):
        safe_extract(junk, tmp_path / "data", progress=False)
    whole = _make_tar(tmp_path / "whole.tar.bz2", GOOD).read_bytes()
    cut = tmp_path / "cut.tar.bz2"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cut.tar.bz2"):
        safe_extract(cut, tmp_path / "data", progress=False)
    with pytest.raises(DataError, match="not found"):
        safe_extract(tmp_path / "missing.tar", tmp_path / "data", progress=False)
    assert not (tmp_path / "data").exists()


def test_top_folder_that_is_a_link_is_refused(tmp_path):
    # LJSpeech-1.1 -> a sibling folder: moving it into place would move the link
    members = [*GOOD, _link("LJSpeech-1.1", "top")]
    archive = _make_tar(tmp_path / "a.tar", members, mode="w")
    dest = tmp_path / "out" / "data"
    with pytest.raises(DataError, match="member 'LJSpeech-1.1' is a link") as err:
        safe_extract(archive, dest, root="LJSpeech-1.1", progress=False)
    assert "\n" not in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


def test_hard_link_to_a_member_not_in_the_archive_is_refused(tmp_path):
    members = [*GOOD, _link("top/hard", "top/missing.txt", tarfile.LNKTYPE)]
    archive = _make_tar(tmp_path / "a.tar", members, mode="w")
    dest = tmp_path / "out" / "data"
    with pytest.raises(DataError, match="'top/hard' is a hard link") as err:
        safe_extract(archive, dest, root="top", progress=False)
    assert "'top/missing.txt'" in str(err.value)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize(
    "bad",
    [
        _file("top/" + "x" * 100_000),
        _link("top/link", "../../" + "y" * 100_000),
        _link("top/hard", "top/" + "z" * 100_000, tarfile.LNKTYPE),
        _link("/" + "a" * 100_000, "top"),
    ],
)
def test_long_member_names_are_cut_in_the_error(tmp_path, bad):
    archive = _make_tar(tmp_path / "a.tar", [*GOOD, bad], mode="w")
    with pytest.raises(DataError) as err:
        safe_extract(archive, tmp_path / "out", root="top", progress=False)
    assert len(str(err.value)) < 300, str(err.value)[:300]


def test_a_link_that_cannot_be_made_is_an_error_not_a_gap(tmp_path):
    # a target past PATH_MAX: tarfile's default would only log it and go on
    members = [*GOOD, _link("top/link", "sub/" * 1200 + "b.txt")]
    archive = _make_tar(tmp_path / "a.tar", members, mode="w")
    with pytest.raises(DataError, match="member 'top/link' could not be extracted"):
        safe_extract(archive, tmp_path / "out" / "data", root="top", progress=False)
    assert list((tmp_path / "out").iterdir()) == []
