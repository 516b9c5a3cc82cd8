"""Every data set of the catalogue, downloaded from a loopback server serving small fake copies; archives that are
damaged, of the wrong layout or that try to write outside the target folder; `dlf data list` and `download all`."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import pytest

from dlf.cli import main
from dlf.data import download as dl
from dlf.data.catalogue import CATALOGUE, get, providers
from dlf.data.convert import CONVERTERS
from dlf.data.paths import locate
from dlf.errors import DataError
from tests.data_server import serve


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def make_tar(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            t.addfile(info)
    return buf.getvalue()


REVIEWS = {"movie_reviews/pos/cv000_29590.txt": b"films adapted from comic books . \nit is good .\n",
           "movie_reviews/neg/cv001_19502.txt": b"the happy bastard's quick movie review \n\x12damn\n",
           "movie_reviews/neg/cv000_29416.txt": b"plot : two teen couples go to a church party .\n",
           "movie_reviews/README": b"Pang and Lee\n"}
EXPECTED_JSONL = "".join(
    json.dumps({"id": i, "label": i[:3], "text": REVIEWS[f"movie_reviews/{i}.txt"].decode()}) + "\n"
    for i in ("neg/cv000_29416", "neg/cv001_19502", "pos/cv000_29590")).encode()
IMDB = {"aclImdb/README": b"Large Movie Review Dataset v1.0\n",
        "aclImdb/train/pos/10_7.txt": b"Great.<br /><br />Really.", "aclImdb/train/pos/2_9.txt": b"Loved it",
        "aclImdb/train/neg/0_2.txt": b"Dull", "aclImdb/train/unsup/0_0.txt": b"Saw it twice",
        "aclImdb/test/neg/1_1.txt": b"Awful \xe9 film"}  # latin-1: kept as a character


def fakes() -> dict[str, tuple[dict[str, bytes], dict, dict[str, bytes | None]]]:
    """name -> (files the server holds, spec fields to replace, expected files in the folder (None: any))."""
    text8 = b" anarchism originated as a term of abuse"
    pos, neg = b"the rock is destined to be great .\n", b"simplistic , silly and tedious .\n"
    mr_zip = make_zip({"sentence_polarity/README": b"v1.0", "sentence_polarity/rt-polarity.pos": pos,
                       "sentence_polarity/rt-polarity.neg": neg})
    text8_zip, imdb_tar = make_zip({"text8": text8}), make_tar(IMDB)
    page = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"
    qw, ws = b": capital-common-countries\nAthens Greece Baghdad Iraq\n", b"# a\n# b\ntiger\tcat\t7.35\n"
    return {
        "tinyshakespeare": ({"input.txt": page}, {"files": {"input.txt": sha(page)}}, {"input.txt": page}),
        "text8": ({"text8.zip": text8_zip}, {"files": {"text8": sha(text8)}, "remote_sha256": {"text8.zip": sha(
            text8_zip)}}, {"text8": text8}),
        "questions-words": ({"questions-words.txt": qw}, {"files": {"questions-words.txt": sha(qw)}},
                            {"questions-words.txt": qw}),
        "wordsim353": ({"wordsim353.tsv": ws}, {"files": {"wordsim353.tsv": sha(ws)}}, {"wordsim353.tsv": ws}),
        "mr": ({"sentence_polarity.zip": mr_zip}, {"files": {"rt-polarity.pos": sha(pos), "rt-polarity.neg": sha(
            neg)}}, {"rt-polarity.pos": pos, "rt-polarity.neg": neg}),
        "movie-reviews": ({"movie_reviews.zip": make_zip(REVIEWS)}, {"files": {"movie_reviews.jsonl": sha(
            EXPECTED_JSONL)}}, {"movie_reviews.jsonl": EXPECTED_JSONL}),
        "imdb": ({"aclImdb_v1.tar.gz": imdb_tar}, {"remote_sha256": {"aclImdb_v1.tar.gz": sha(imdb_tar)}},
                 {"reviews.jsonl": None}),
    }


def fake_spec(name: str, url: str, replace: dict):
    return dataclasses.replace(CATALOGUE[name], mirrors=(url,), mirrors_env=None, timeout=5, retry_wait=0, **replace)


@pytest.mark.parametrize("name", [n for n in CATALOGUE if n != "mnist"])  # mnist: tests/test_download.py
def test_each_data_set_downloads_checks_and_lands_in_its_folder(name, tmp_path):
    served, replace, expected = fakes()[name]
    with serve(served) as (url, handler):
        folder = dl.download(name, tmp_path, spec=fake_spec(name, f"{url}/good/", replace), quiet=True)
    assert folder == tmp_path / CATALOGUE[name].folder
    assert sorted(p.name for p in folder.iterdir()) == sorted(expected)  # no archive, .part or temp folder left
    for file, data in expected.items():
        if data is not None:
            assert (folder / file).read_bytes() == data


def test_imdb_conversion_orders_labels_and_unbreaks_lines(tmp_path):
    served, replace, _ = fakes()["imdb"]
    with serve(served) as (url, _):
        folder = dl.download("imdb", tmp_path, spec=fake_spec("imdb", f"{url}/good/", replace), quiet=True)
    rows = [json.loads(line) for line in (folder / "reviews.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["train/pos/2_9", "train/pos/10_7", "train/neg/0_2", "train/unsup/0_0",
                                       "test/neg/1_1"]  # train before test, pos, neg, unsup, by number
    assert [r["label"] for r in rows] == ["pos", "pos", "neg", "", "neg"]
    assert rows[1]["text"] == "Great.\n\nReally." and rows[4]["text"] == "Awful \xe9 film"


@pytest.mark.parametrize("bad_member", ["../escape.txt", "/abs/escape.txt", "sentence_polarity/../../x"])
def test_path_traversal_archive_is_refused_and_nothing_lands(bad_member, tmp_path):
    _, replace, _ = fakes()["mr"]
    evil = make_zip({bad_member: b"gotcha", "sentence_polarity/rt-polarity.pos": b"a\n"})
    with serve({"sentence_polarity.zip": evil}) as (url, _), pytest.raises(DataError) as info:
        dl.download("mr", tmp_path / "data", spec=fake_spec("mr", f"{url}/good/", replace), quiet=True)
    assert "refused" in str(info.value) and "\n" not in str(info.value)
    assert list((tmp_path / "data" / "sentiment").iterdir()) == []
    assert not list(tmp_path.rglob("escape.txt")) and not Path("/abs/escape.txt").exists()


def test_tar_with_a_link_is_refused(tmp_path):
    evil = make_tar({"aclImdb/train/pos/0_9.txt": b"ok"}, links={"aclImdb/train/neg/1_1.txt": "/etc/passwd"})
    spec = fake_spec("imdb", "", {"remote_sha256": {"aclImdb_v1.tar.gz": sha(evil)}})  # checksum ok: then refused
    with serve({"aclImdb_v1.tar.gz": evil}) as (url, _), pytest.raises(DataError, match="link or a device"):
        dl.download("imdb", tmp_path, spec=dataclasses.replace(spec, mirrors=(f"{url}/good/",)), quiet=True)
    assert list((tmp_path / "imdb").iterdir()) == []


def test_unexpected_layout_then_a_good_mirror(tmp_path):
    served, replace, expected = fakes()["text8"]
    wrong = make_zip({"enwik8": b"not text8"})
    files = {"wrong/text8.zip": wrong, "text8.zip": served["text8.zip"]}
    replace = {**replace, "remote_sha256": {}}  # only the member's sum: the layout check is what must catch it
    with serve(files) as (url, _):
        with pytest.raises(DataError, match=r"unexpected layout: no member text8 \(it holds: enwik8\)"):
            dl.download("text8", tmp_path, spec=fake_spec("text8", f"{url}/good/wrong/", replace), quiet=True)
        spec = dataclasses.replace(fake_spec("text8", f"{url}/good/wrong/", replace),
                                   mirrors=(f"{url}/good/wrong/", f"{url}/good/"))
        folder = dl.download("text8", tmp_path, spec=spec, quiet=True)
    assert (folder / "text8").read_bytes() == expected["text8"]


def test_corrupt_archive_and_bad_member_checksum_are_rejected(tmp_path):
    served, replace, _ = fakes()["mr"]
    other = make_zip({"sentence_polarity/rt-polarity.pos": b"changed\n", "sentence_polarity/rt-polarity.neg": b"x"})
    with serve({"sentence_polarity.zip": other, "x/sentence_polarity.zip": b"PK\x03\x04 truncated"}) as (url, _):
        with pytest.raises(DataError, match="sha256 of rt-polarity.pos"):
            dl.download("mr", tmp_path, spec=fake_spec("mr", f"{url}/good/", replace), quiet=True)
        with pytest.raises(DataError, match="not a valid zip archive"):
            dl.download("mr", tmp_path, spec=fake_spec("mr", f"{url}/good/x/", replace), quiet=True)
    assert list((tmp_path / "sentiment").iterdir()) == []


def test_archive_resumes_after_a_dropped_connection(tmp_path):
    served, replace, expected = fakes()["text8"]
    with serve(served) as (url, handler):
        folder = dl.download("text8", tmp_path, spec=fake_spec("text8", f"{url}/flaky/", replace), quiet=True)
    assert (folder / "text8").read_bytes() == expected["text8"]
    assert [r for _, r in handler.requests] == [None, f"bytes={len(served['text8.zip']) // 2}-"]


def test_movie_reviews_converter_without_reviews_is_a_layout_error(tmp_path):
    served = {"movie_reviews.zip": make_zip({"movie_reviews/README": b"x", "pos/cv000_1.txt": b"only positive"})}
    with serve(served) as (url, _), pytest.raises(DataError, match="unexpected layout"):
        dl.download("movie-reviews", tmp_path, spec=fake_spec("movie-reviews", f"{url}/good/", {}), quiet=True)


@pytest.mark.full_data
def test_movie_reviews_converter_reproduces_the_reference_jsonl_byte_for_byte(tmp_path):
    """A zip rebuilt from the reference movie_reviews.jsonl (NLTK's layout) converts back to the same bytes."""
    try:
        reference = locate("sentiment", ["movie_reviews.jsonl"]) / "movie_reviews.jsonl"
    except DataError:
        pytest.skip("set DLF_DATA_DIR to a folder holding sentiment/movie_reviews.jsonl")
    lines = reference.read_text().splitlines()
    members = {f"movie_reviews/{r['id']}.txt": r["text"].encode() for r in map(json.loads, lines[::-1])}
    members["movie_reviews/README"] = b"polarity dataset v2.0"
    with serve({"movie_reviews.zip": make_zip(members)}) as (url, _):
        folder = dl.download("movie-reviews", tmp_path, spec=fake_spec("movie-reviews", f"{url}/good/", {}),
                             quiet=True)  # the catalogue's real SHA-256 (41bc16df...)
    assert sha((folder / "movie_reviews.jsonl").read_bytes()) == CATALOGUE["movie-reviews"].files[
        "movie_reviews.jsonl"]


def test_catalogue_entries_are_complete_and_checkable():
    for name, spec in CATALOGUE.items():
        assert spec.name == name and spec.mirrors and spec.remote and spec.files
        assert spec.mirrors_env == f"DLF_{name.upper().replace('-', '_')}_MIRRORS"
        assert all(m.startswith(("http://", "https://")) and m.endswith("/") for m in spec.mirrors)
        assert spec.description and spec.source and spec.licence and spec.home.startswith("http")
        for value in [*spec.files.values(), *spec.remote_sha256.values()]:
            assert value is None or re.fullmatch(r"[0-9a-f]{64}", value)
        for remote in spec.remote:  # every byte that lands is checked: the download's sum, or every file's
            assert remote in spec.remote_sha256 or all(v is not None for v in spec.files.values()), name
        assert spec.unpack in ("none", "zip", "tar.gz")
        assert spec.convert is None or spec.convert in CONVERTERS
        if spec.unpack != "none" and spec.convert is None:
            assert set(spec.members.values()) == set(spec.files)


def test_unknown_name_suggests_the_closest(capsys):
    assert get("movie_reviews").name == "movie-reviews"
    with pytest.raises(DataError, match="did you mean 'text8'"):
        get("text9")
    assert main(["data", "download", "tinyshakespear"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'tinyshakespeare'" in err


def test_missing_data_names_the_download_command(tmp_path, monkeypatch):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(DataError, match=r"run 'dlf data download mr movie-reviews'"):
        locate("sentiment", ["movie_reviews.jsonl", "rt-polarity.pos", "rt-polarity.neg"], tmp_path)
    with pytest.raises(DataError, match=r"run 'dlf data download text8'"):
        locate("text8", ["text8"], tmp_path)
    assert [s.name for s in providers("eval", ["wordsim353.tsv"])] == ["wordsim353"]


def test_data_list_shows_presence_folder_size_source_and_licence(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DLF_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "tinyshakespeare").mkdir()
    (tmp_path / "tinyshakespeare" / "input.txt").write_bytes(b"x" * 1500)
    (tmp_path / "sentiment").mkdir()
    (tmp_path / "sentiment" / "rt-polarity.pos").write_text("a\n")  # .neg missing: partial
    assert main(["data", "list", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line and not line.startswith(" ")}
    assert set(CATALOGUE) <= set(rows)
    assert rows["tinyshakespeare"][1:3] == ["present", "1.5"] and rows["tinyshakespeare"][-1] == str(
        tmp_path / "tinyshakespeare")
    assert rows["mr"][1] == "partial" and rows["text8"][1] == "missing" and "31.3" in rows["text8"]
    assert "licence: CC BY 4.0" in out and "source: Matt Mahoney's text8.zip" in out


def test_download_all_fetches_every_data_set_and_reports_failures(tmp_path, monkeypatch, capsys):
    files, specs = {}, {}
    with serve(files) as (url, _):
        for name, (served, replace, _) in fakes().items():
            files.update(served)
            specs[name] = fake_spec(name, f"{url}/good/", replace)
        mnist_gz = __import__("gzip").compress(b"idx", mtime=0)
        files["train-images-idx3-ubyte.gz"] = mnist_gz
        specs["mnist"] = fake_spec("mnist", f"{url}/good/", {
            "files": {"train-images-idx3-ubyte": sha(b"idx")}, "remote": ("train-images-idx3-ubyte.gz",)})
        for name, spec in specs.items():
            monkeypatch.setitem(CATALOGUE, name, spec)
        assert main(["data", "download", "all", "--data-dir", str(tmp_path)]) == 0
        assert all(dl.status(spec, tmp_path)[0] == "present" for spec in specs.values())
        monkeypatch.setitem(CATALOGUE, "text8", dataclasses.replace(specs["text8"], mirrors=(f"{url}/missing/",)))
        (tmp_path / "text8" / "text8").unlink()
        capsys.readouterr()
        assert main(["data", "download", "all", "--data-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "already present" in captured.out and "HTTP 404" in captured.out
    assert captured.err.count("\n") == 1 and "1 of 8 data sets could not be downloaded: text8" in captured.err
