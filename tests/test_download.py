import hashlib

import pytest

from hw2.core.download import check_url, download
from hw2.core.errors import DataError

PAYLOAD = bytes(range(256)) * 4000  # ~1 MB, several read chunks


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def served(http_server):
    (http_server.root / "blob.bin").write_bytes(PAYLOAD)
    return http_server


def test_download_verifies_and_promotes(served, tmp_path):
    dest = tmp_path / "out" / "blob.bin"
    download(served.url("blob.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not dest.with_name("blob.bin.part").exists()
    # a verified file is not fetched again
    n = len(served.requests)
    download(served.url("blob.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    assert len(served.requests) == n


def test_cut_connection_resumes_from_partial_file(served, tmp_path):
    dest = tmp_path / "blob.bin"
    served.cut_after = 300_000
    with pytest.raises(DataError, match="run again to resume"):
        download(served.url("blob.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    part = tmp_path / "blob.bin.part"
    assert part.stat().st_size == 300_000 and not dest.exists()
    served.cut_after = None
    download(served.url("blob.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    assert served.requests[-1]["range"] == "bytes=300000-"
    assert dest.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_cleanly(served, tmp_path):
    (tmp_path / "blob.bin.part").write_bytes(PAYLOAD[:1000])
    served.ignore_range = True
    dest = download(
        served.url("blob.bin"),
        tmp_path / "blob.bin",
        checksum=md5(PAYLOAD),
        progress=False,
    )
    assert dest.read_bytes() == PAYLOAD


def test_checksum_mismatch_promotes_nothing(served, tmp_path):
    dest = tmp_path / "blob.bin"
    with pytest.raises(DataError, match="md5 checksum mismatch"):
        download(served.url("blob.bin"), dest, checksum="0" * 32, progress=False)
    assert not dest.exists() and not (tmp_path / "blob.bin.part").exists()


def test_http_error_is_one_clear_line(served, tmp_path):
    with pytest.raises(DataError, match="HTTP 404"):
        download(
            served.url("nope.bin"), tmp_path / "x", checksum="0" * 32, progress=False
        )
    served.fail_status = 503
    with pytest.raises(DataError, match="HTTP 503"):
        download(
            served.url("blob.bin"), tmp_path / "x", checksum="0" * 32, progress=False
        )


def test_sha256_is_supported(served, tmp_path):
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    dest = download(
        served.url("blob.bin"),
        tmp_path / "b",
        checksum=digest.upper(),
        algorithm="sha256",
        progress=False,
    )
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize(
    "url",
    ["http://example.com/a.npz", "ftp://example.com/a", "file:///etc/passwd", "x"],
)
def test_non_https_urls_are_refused(url):
    with pytest.raises(DataError, match="only https:// URLs are allowed"):
        check_url(url)


def test_https_and_loopback_http_are_allowed():
    check_url("https://zenodo.org/records/1/files/octmnist.npz?download=1")
    check_url("http://127.0.0.1:8000/x")


def test_redirect_to_an_allowed_url_is_followed(served, tmp_path):
    served.redirects["/moved.bin"] = served.url("blob.bin")
    dest = tmp_path / "blob.bin"
    download(served.url("moved.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert [r["path"] for r in served.requests] == ["/moved.bin", "/blob.bin"]


@pytest.mark.parametrize(
    "target", ["http://example.com/blob.bin", "ftp://127.0.0.1/blob.bin"]
)
def test_redirect_to_a_refused_url_is_not_followed(served, tmp_path, target):
    served.redirects["/moved.bin"] = target
    dest = tmp_path / "blob.bin"
    with pytest.raises(DataError, match="refusing to download") as info:
        download(served.url("moved.bin"), dest, checksum=md5(PAYLOAD), progress=False)
    assert target in str(info.value)
    assert not dest.exists() and not dest.with_name("blob.bin.part").exists()


@pytest.mark.parametrize(
    ("checksum", "algorithm"),
    [("not-an-md5", "md5"), ("ab" * 16 + "0", "md5"), ("ab" * 16, "sha256")],
)
def test_malformed_checksum_is_refused_before_any_request(
    served, tmp_path, checksum, algorithm
):
    with pytest.raises(DataError, match=f"{algorithm} checksum .* hexadecimal"):
        download(
            served.url("blob.bin"),
            tmp_path / "blob.bin",
            checksum=checksum,
            algorithm=algorithm,
            progress=False,
        )
    assert served.requests == []


@pytest.mark.parametrize(
    ("url", "checksum"),
    [
        ("ftp://example.org/" + "a" * 100_000, md5(PAYLOAD)),
        ("https://example.org/blob.bin", "f" * 100_000),
    ],
)
def test_long_url_or_checksum_is_cut_in_the_error(tmp_path, url, checksum):
    with pytest.raises(DataError) as info:
        download(url, tmp_path / "blob.bin", checksum=checksum, progress=False)
    assert len(str(info.value)) < 150, str(info.value)[:300]


def test_unreachable_long_url_is_cut_in_the_error(served, tmp_path):
    url = served.url("missing/" + "b" * 100_000)
    with pytest.raises(DataError, match="failed") as info:
        download(url, tmp_path / "blob.bin", checksum=md5(PAYLOAD), progress=False)
    assert len(str(info.value)) < 150, str(info.value)[:300]
