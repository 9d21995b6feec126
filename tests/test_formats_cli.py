"""``kgrec ingest recbole|csv|table`` and ``kgrec export recbole|csv`` as a user runs them: a
subprocess with its own KGREC_HOME and store."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.foreign_files import write_movie_admin_csv, write_music_recbole
from tests.test_cli import KGREC, _env, kgrec


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("kgrec-home")
    yield path
    subprocess.run([KGREC, "db", "stop"], env=_env(path), capture_output=True, timeout=60)


def _stats(home: Path, graph: str) -> dict[str, dict[str, int]]:
    return json.loads(kgrec(home, "stats", "--json", "--graph", graph).stdout)  # type: ignore[no-any-return]


def test_ingest_recbole_converges_and_a_bad_line_keeps_the_graph(
    home: Path, tmp_path: Path
) -> None:
    d = write_music_recbole(tmp_path / "music")
    kgrec(home, "ingest", "recbole", str(d), "--graph", "music")
    first = _stats(home, "music")
    assert first["nodes"] == {"Entity": 10, "Tag": 10, "User": 30, "Video": 40}
    assert first["relationships"]["RATED"] == 360 and first["relationships"]["FRIEND_OF"] == 33
    kgrec(home, "ingest", "recbole", str(d), "--graph", "music")
    assert _stats(home, "music") == first
    lines = (d / "music.inter").read_text().splitlines()
    lines[4] = "u0\ta3\tfour\t1700000100"
    (d / "music.inter").write_text("\n".join(lines) + "\n")
    proc = kgrec(home, "ingest", "recbole", str(d), "--graph", "music", ok=False)
    assert proc.returncode == 1
    assert "music.inter line 5, field 'rating': 'four' is not a finite number" in proc.stderr
    assert _stats(home, "music") == first


def test_export_recbole_reads_back(home: Path, tmp_path: Path) -> None:
    d = write_music_recbole(tmp_path / "music")
    kgrec(home, "ingest", "recbole", str(d), "--graph", "rb")
    out = tmp_path / "exported"
    kgrec(home, "export", "recbole", str(out), "--graph", "rb", "--name", "tunes")
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"tunes.{s}" for s in ("inter", "item", "kg", "link", "net", "user")]
    item_header = (out / "tunes.item").read_text().split("\n", 1)[0].split("\t")
    assert item_header[:4] == [
        "item_id:token",
        "artist_name:token",
        "audio:float_seq",
        "listeners:float",
    ]
    again = kgrec(home, "export", "recbole", str(out), "--graph", "rb", "--name", "tunes", ok=False)
    assert again.returncode == 1 and "--force" in again.stderr
    kgrec(home, "ingest", "recbole", str(out), "--graph", "rb2")
    stats = _stats(home, "rb2")
    assert stats["nodes"]["User"] == 30 and stats["nodes"]["Video"] == 40
    assert stats["relationships"]["RATED"] == 360 and stats["relationships"]["FRIEND_OF"] == 33
    assert stats["relationships"]["HAS_TAG"] == 120


def test_csv_import_export_round_trip(home: Path, tmp_path: Path) -> None:
    d = write_movie_admin_csv(tmp_path / "movies")
    kgrec(home, "ingest", "csv", str(d), "--graph", "movies")
    first = _stats(home, "movies")
    assert first["nodes"] == {"Customer": 30, "Genre": 4, "Movie": 40, "Person": 8}
    assert first["relationships"] == {
        "DIRECTED_BY": 40,
        "FRIEND_OF": 33,
        "IN_GENRE": 40,
        "WATCHED": 360,
    }
    out = tmp_path / "exported"
    kgrec(home, "export", "csv", str(out), "--graph", "movies")
    assert (
        (out / "Customer-WATCHED-Movie.csv")
        .read_text()
        .startswith(":START_ID(Customer),:END_ID(Movie),:TYPE,rating:double,ts:long\n")
    )
    kgrec(home, "ingest", "csv", str(out), "--graph", "movies2")
    assert _stats(home, "movies2") == first
    (d / "friends.csv").write_text(":START_ID(Customer),:END_ID(Customer)\nc1,c2\nc1,c404\n")
    proc = kgrec(home, "ingest", "csv", str(d), "--graph", "movies", ok=False)
    assert proc.returncode == 1
    assert "friends.csv line 3, field ':END_ID(Customer)': unknown node id 'c404'" in proc.stderr
    assert _stats(home, "movies") == first


def test_ingest_table(home: Path, tmp_path: Path) -> None:
    (tmp_path / "plays.tsv").write_text(
        "listener\tsong\tstars\tday\n"
        "a\ts1\t5\t2024-03-01\na\ts2\t2\t2024-03-02\nb\ts1\t4\t2024-03-03\n"
    )
    (tmp_path / "songs.csv").write_text("song,title,moods\ns1,One,calm|sad\ns2,Two,happy\n")
    (tmp_path / "kg.csv").write_text("head,relation,tail\ns1,composed_by,p1\n")
    args = [
        "ingest",
        "table",
        str(tmp_path / "plays.tsv"),
        "--user-col",
        "listener",
        "--item-col",
        "song",
        "--rating-col",
        "stars",
        "--time-col",
        "day",
        "--items",
        str(tmp_path / "songs.csv"),
        "--multi",
        "moods",
        "--triples",
        str(tmp_path / "kg.csv"),
        "--graph",
        "plays",
    ]
    kgrec(home, *args)
    stats = _stats(home, "plays")
    assert stats["nodes"] == {"Entity": 1, "Mood": 3, "User": 2, "Video": 2}
    assert stats["relationships"] == {"HAS_MOOD": 3, "KG_composed_by": 1, "RATED": 3}
    missing = kgrec(
        home,
        "ingest",
        "table",
        str(tmp_path / "plays.tsv"),
        "--user-col",
        "x",
        "--graph",
        "plays",
        ok=False,
    )
    assert missing.returncode == 2 and "--item-col" in missing.stderr  # a required option
    bad = kgrec(home, *[a if a != "stars" else "day" for a in args], ok=False)
    assert bad.returncode == 1
    assert "plays.tsv line 2, field 'day': '2024-03-01' is not a finite number" in bad.stderr
    assert _stats(home, "plays") == stats
