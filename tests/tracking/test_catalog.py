"""Catalogue parsing, loading and in-place updates, on real CelesTrak element sets."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from sgp4.api import Satrec
from sgp4.exporter import export_omm

from orbitlink.tracking.catalogue import (
    Catalogue,
    CatalogueError,
    parse_norad_id,
    tle_checksum,
)
from orbitlink.tracking.errors import FormatError, Reject


def checksum(line: str) -> int:
    """Independent TLE checksum (the test must not trust the code it tests)."""
    return sum(int(c) if c.isdigit() else (1 if c == "-" else 0) for c in line[:68]) % 10


def with_checksum(line: str) -> str:
    return line[:68] + str(checksum(line))


def read_sets(path: Path) -> list[tuple[str, str, str]]:
    lines = [line.rstrip() for line in path.read_text().splitlines() if line.strip()]
    return [(lines[i], lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)]


@pytest.fixture(scope="module")
def geo_sets(catalog_dir: Path) -> list[tuple[str, str, str]]:
    return read_sets(catalog_dir / "geo.tle")


@pytest.fixture(scope="module")
def full_rejects() -> list[Reject]:
    return []


@pytest.fixture(scope="module")
def full(catalog_dir: Path, full_rejects: list[Reject]) -> Catalogue:
    """The real snapshot, loaded leniently so that a refused set shows in ``full_rejects``."""
    return Catalogue.from_path(catalog_dir, rejects=full_rejects)


def as_text(sets, names=True, zero_prefix=False) -> str:
    out = []
    for name, line1, line2 in sets:
        if names:
            out.append(("0 " if zero_prefix else "") + name)
        out += [line1, line2]
    return "\n".join(out) + "\n"


def with_epoch(line1: str, epoch_field: str) -> str:
    """Line 1 with columns 19-32 (YYDDD.DDDDDDDD) replaced and the checksum redone."""
    assert len(epoch_field) == 14
    return with_checksum(line1[:18] + epoch_field + line1[32:])


# ---------------------------------------------------------------------------- TLE parsing


def test_three_line_text_gives_names_ids_and_epochs(geo_sets):
    rejects: list[Reject] = []
    cat = Catalogue.from_tle_text(as_text(geo_sets[:5]), rejects=rejects)
    assert len(cat) == 5
    for name, line1, line2 in geo_sets[:5]:
        i = cat.index_of([int(line1[2:7])])[0]
        assert i >= 0
        assert cat.names[i] == name.strip()
        assert cat.lines[i] == (line1, line2)
        satrec = Satrec.twoline2rv(line1, line2)
        expected = (satrec.jdsatepoch + satrec.jdsatepochF - 2440587.5) * 86400.0
        assert cat.epoch_unix_s[i] == pytest.approx(expected, abs=1e-3)
    assert np.all(np.diff(cat.norad_ids) > 0)
    assert rejects == []


def test_two_line_zero_prefixed_and_blank_lines(geo_sets):
    two = Catalogue.from_tle_text(as_text(geo_sets[:4], names=False))
    assert len(two) == 4 and two.names == [""] * 4
    spaced = as_text(geo_sets[:4], zero_prefix=True).replace("\n", "\r\n\n   \n")
    zero = Catalogue.from_tle_text(spaced)
    assert sorted(zero.names) == sorted(s[0].strip() for s in geo_sets[:4])
    np.testing.assert_array_equal(zero.norad_ids, two.norad_ids)


def test_alpha5_catalogue_number(geo_sets):
    name, line1, line2 = geo_sets[0]
    line1 = with_checksum(line1[:2] + "A0001" + line1[7:])
    line2 = with_checksum(line2[:2] + "A0001" + line2[7:])
    cat = Catalogue.from_tle_text(f"{name}\n{line1}\n{line2}\n")
    assert cat.norad_ids.tolist() == [100001]
    assert parse_norad_id("Z9999") == 339999
    assert parse_norad_id("J1234") == 181234  # I and O are skipped, so J is 18
    with pytest.raises(ValueError):
        parse_norad_id("I0001")
    # and it survives a round trip through text
    again = Catalogue.from_tle_text(cat.to_tle_text())
    assert again.norad_ids.tolist() == [100001] and again.names == [name.strip()]


def test_bad_checksum_names_the_line_and_can_be_skipped(geo_sets):
    sets = list(geo_sets[:3])
    name, line1, line2 = sets[1]
    wrong = str((int(line2[68]) + 1) % 10)
    sets[1] = (name, line1, line2[:68] + wrong)
    text = as_text(sets)
    with pytest.raises(CatalogueError, match=r"feed\.tle:6: TLE line 2 checksum"):
        Catalogue.from_tle_text(text, source="feed.tle")
    rejects: list[Reject] = []
    cat = Catalogue.from_tle_text(text, source="feed.tle", rejects=rejects)
    assert len(cat) == 2 and int(line1[2:7]) not in cat.norad_ids
    assert len(rejects) == 1 and "feed.tle:6" in str(rejects[0].error)
    assert rejects[0].line_no == 6 and isinstance(rejects[0].error, FormatError)
    assert tle_checksum(line2) == int(line2[68])


@pytest.mark.parametrize(
    "text, message",
    [
        ("hello world\nnot a tle\n", r"<text>:1: name line 'hello world' is not followed"),
        ("SAT\n1 12345U short line\n2 12345 also short\n", r"<text>:2: TLE line 1 has 19 char"),
        (
            "2 19548  12.6156 341.1225 0039238 356.7275  12.9243  1.00281048125214\n",
            r"<text>:1: TLE line 2 without a line 1",
        ),
        (
            "SAT\n1 19548U 88091B   26150.42208977 -.00000296  00000+0  00000+0 0  9992\n",
            r"<text>:2: TLE line 1 is not followed by a line 2",
        ),
    ],
)
def test_garbage_is_rejected_with_a_line_number(text, message):
    with pytest.raises(CatalogueError, match=message):
        Catalogue.from_tle_text(text)


def test_mismatched_catalogue_numbers(geo_sets):
    (_, line1, _), (_, _, other2) = geo_sets[0], geo_sets[1]
    with pytest.raises(CatalogueError, match="catalogue numbers differ"):
        Catalogue.from_tle_text(f"{line1}\n{other2}\n")


def test_rejects_option_is_checked():
    # the retired spelling lenient=True, moved to rejects=, fails before reading anything
    with pytest.raises(TypeError, match="rejects must be a list"):
        Catalogue.from_tle_text("", rejects=True)


# --------------------------------------------------------------------------- folder loading


def test_folder_of_real_snapshot(full, full_rejects, catalog_dir):
    ids_by_file = {}
    for path in sorted(catalog_dir.glob("*.tle")):
        for _, line1, _ in read_sets(path):
            ids_by_file.setdefault(int(line1[2:7]), []).append(line1)
    assert len(full) == len(ids_by_file) > 11_000
    assert np.all(np.diff(full.norad_ids) > 0)  # unique and sorted
    assert full_rejects == []
    # epochs are around the snapshot date (2026-05-30 = 1780099200)
    assert np.median(full.epoch_unix_s) == pytest.approx(1780099200, abs=3 * 86400)
    # where files repeat an id, the newest epoch was kept
    repeated = {k: v for k, v in ids_by_file.items() if len(v) > 1}
    assert repeated, "the snapshot has objects in several files"
    for norad_id, line1s in list(repeated.items())[:50]:
        newest = max(line1s, key=lambda line: float(line[18:32]))
        assert full.lines[full.index_of([norad_id])[0]][0] == newest


def test_single_file_and_missing_path(catalog_dir, tmp_path):
    cat = Catalogue.from_path(catalog_dir / "stations.tle")
    assert len(cat) == len(read_sets(catalog_dir / "stations.tle"))
    assert 25544 in cat.norad_ids
    with pytest.raises(FileNotFoundError):
        Catalogue.from_path(tmp_path / "nope.tle")
    (tmp_path / "README.md").write_text("no element sets here")
    with pytest.raises(CatalogueError, match="no TLE"):
        Catalogue.from_path(tmp_path)


def test_lenient_folder_load_names_file_and_line(full, geo_sets, tmp_path):
    name, line1, line2 = geo_sets[0]
    (tmp_path / "a.tle").write_text(as_text(geo_sets[1:4]))
    broken = line2[:68] + str((int(line2[68]) + 1) % 10)
    (tmp_path / "b.tle").write_text(f"{name}\n{line1}\n{broken}\n" + as_text(geo_sets[4:6]))
    (tmp_path / "c.json").write_text(
        json.dumps([full.element_set(int(full.index_of([25544])[0])), {"line1": line1}])
    )
    with pytest.raises(CatalogueError, match=r"b\.tle:3: TLE line 2 checksum"):
        Catalogue.from_path(tmp_path)
    rejects: list[Reject] = []
    cat = Catalogue.from_path(tmp_path, rejects=rejects)
    assert len(cat) == 3 + 2 + 1 and int(line1[2:7]) not in cat.norad_ids
    assert [(Path(r.error.source).name, r.line_no) for r in rejects] == [
        ("b.tle", 3),
        ("c.json", 2),
    ]
    assert rejects[0].error.text == broken
    assert str(rejects[1].error).endswith("c.json[1]: a TLE record needs both line1 and line2")
    # a file that is not JSON at all is a fault of the file: it raises even in lenient mode
    (tmp_path / "d.json").write_text("[{")
    with pytest.raises(CatalogueError, match=r"d\.json:1: not valid JSON"):
        Catalogue.from_path(tmp_path, rejects=[])


def test_write_and_reload(full, tmp_path):
    part = full.subset(np.arange(0, len(full), 97))
    part.write(tmp_path / "part.3le")
    again = Catalogue.from_path(tmp_path / "part.3le")
    np.testing.assert_array_equal(again.norad_ids, part.norad_ids)
    assert again.names == part.names and again.lines == part.lines


# ----------------------------------------------------------------------------- OMM, records


def omm_fields(cat: Catalogue, i: int) -> dict:
    return export_omm(cat.satrecs[i], cat.names[i])


def positions_agree(a: Satrec, b: Satrec, hours: float = 6.0) -> float:
    jd, fr = a.jdsatepoch, a.jdsatepochF + hours / 24.0
    _, ra, _ = a.sgp4(jd, fr)
    _, rb, _ = b.sgp4(jd, fr)
    return float(np.linalg.norm(np.subtract(ra, rb)))


def test_omm_json_and_csv_files(full, tmp_path):
    starlink = next(i for i, name in enumerate(full.names) if name.startswith("STARLINK"))
    chosen = [int(i) for i in full.index_of([25544, 19548])] + [starlink]
    assert min(chosen) >= 0
    expected_ids = sorted(full.norad_ids[chosen].tolist())
    records = [omm_fields(full, i) for i in chosen]
    (tmp_path / "a.json").write_text(json.dumps(records))
    with open(tmp_path / "b.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    for name in ("a.json", "b.csv"):
        cat = Catalogue.from_path(tmp_path / name)
        assert cat.norad_ids.tolist() == expected_ids
        for i in chosen:
            j = cat.index_of([full.norad_ids[i]])[0]
            assert cat.names[j] == full.names[i]
            assert cat.epoch_unix_s[j] == pytest.approx(full.epoch_unix_s[i], abs=1e-3)
            assert positions_agree(cat.satrecs[j], full.satrecs[i]) < 1e-3  # km
    both = Catalogue.from_path(tmp_path)
    assert len(both) == 3


METADATA = (
    "OBJECT_NAME",
    "OBJECT_ID",
    "CENTER_NAME",
    "REF_FRAME",
    "TIME_SYSTEM",
    "MEAN_ELEMENT_THEORY",
)
MEAN_ELEMENTS = (
    "EPOCH",
    "MEAN_MOTION",
    "ECCENTRICITY",
    "INCLINATION",
    "RA_OF_ASC_NODE",
    "ARG_OF_PERICENTER",
    "MEAN_ANOMALY",
)


def omm_xml(records: list[dict]) -> str:
    """CCSDS OMM XML (NDM wrapper, one segment per object) as CelesTrak serves it."""

    def tags(record, keys):
        return "".join(f"<{k}>{record[k]}</{k}>" for k in keys)

    segments = []
    for record in records:
        rest = [k for k in record if k not in METADATA + MEAN_ELEMENTS]
        segments.append(
            f"<omm><body><segment><metadata>{tags(record, METADATA)}</metadata>"
            f"<data><meanElements>{tags(record, MEAN_ELEMENTS)}</meanElements>"
            f"<tleParameters>{tags(record, rest)}</tleParameters></data>"
            f"</segment></body></omm>"
        )
    return f'<?xml version="1.0" encoding="UTF-8"?><ndm>{"".join(segments)}</ndm>'


def test_omm_xml_file(full, tmp_path):
    chosen = [int(i) for i in full.index_of([25544, 19548])]
    (tmp_path / "c.xml").write_text(omm_xml([omm_fields(full, i) for i in chosen]))
    cat = Catalogue.from_path(tmp_path / "c.xml")
    assert cat.norad_ids.tolist() == [19548, 25544]
    for i in chosen:
        j = cat.index_of([full.norad_ids[i]])[0]
        assert positions_agree(cat.satrecs[j], full.satrecs[i]) < 1e-3
    (tmp_path / "d.xml").write_text("<ndm><omm>")
    with pytest.raises(CatalogueError, match="d.xml: not an OMM XML document"):
        Catalogue.from_path(tmp_path / "d.xml")


def test_records_round_trip_and_errors(full):
    records = [full.element_set(i) for i in range(0, 300, 7)]
    assert set(records[0]) == {"name", "line1", "line2", "norad_id", "epoch"}
    assert records[0]["epoch"].endswith("Z")
    again = Catalogue.from_records(records)
    np.testing.assert_array_equal(again.norad_ids, full.norad_ids[0:300:7])
    mixed = Catalogue.from_records([records[0], omm_fields(full, 10)])
    assert len(mixed) == 2
    with pytest.raises(CatalogueError, match=r"records\[1\]: a TLE record needs both"):
        Catalogue.from_records([records[0], {"name": "x", "line1": records[0]["line1"]}])
    with pytest.raises(CatalogueError, match=r"records\[0\]: neither a TLE record"):
        Catalogue.from_records([{"foo": 1}])
    with pytest.raises(CatalogueError, match=r"records\[0\]: norad_id 5 differs"):
        Catalogue.from_records([dict(records[0], norad_id=5)])
    bad_omm = {k: v for k, v in omm_fields(full, 0).items() if k != "MEAN_MOTION"}
    with pytest.raises(CatalogueError, match="lacks field MEAN_MOTION"):
        Catalogue.from_records([bad_omm])
    rejects: list[Reject] = []
    skipped = Catalogue.from_records([records[0], {"foo": 1}], rejects=rejects)
    assert len(skipped) == 1 and len(rejects) == 1
    # the reject carries the record number (from 1); the message keeps the index (from 0)
    assert rejects[0].line_no == 2 and str(rejects[0].error).startswith("records[1]: neither")
    with pytest.raises(CatalogueError, match=r"records\[0\]: norad_id 'abc' is not a catalogue"):
        Catalogue.from_records([dict(records[0], norad_id="abc")])


# ------------------------------------------------------------------------ queries, updates


def test_index_of_subset_without(full):
    ids = np.array([25544, 19548, 7])  # 7 is not in the catalogue
    index = full.index_of(ids)
    assert index[2] == -1 and np.all(full.norad_ids[index[:2]] == ids[:2])
    mask = np.zeros(len(full), dtype=bool)
    mask[index[:2]] = True
    assert sorted(full.subset(mask).norad_ids.tolist()) == [19548, 25544]
    assert full.subset(index[:2]).norad_ids.tolist() == [19548, 25544]  # kept sorted by id
    assert full.subset([index[1]]).names == [full.names[index[1]]]
    rest = full.without(ids)
    assert len(rest) == len(full) - 2 and not np.isin(ids, rest.norad_ids).any()
    with pytest.raises(IndexError):
        full.subset([len(full)])
    with pytest.raises(ValueError):
        full.subset(np.ones(3, dtype=bool))


def test_update_in_place(geo_sets):
    base_sets = geo_sets[:3]
    cat = Catalogue.from_tle_text(as_text(base_sets))
    array_before = cat.satrec_array
    name, line1, line2 = base_sets[0]
    norad_id = int(line1[2:7])
    i = cat.index_of([norad_id])[0]
    old_epoch = cat.epoch_unix_s[i]

    newer = Catalogue.from_tle_text(f"{name}\n{with_epoch(line1, '26160.50000000')}\n{line2}\n")
    assert cat.update(newer) == 1
    i = cat.index_of([norad_id])[0]
    assert cat.epoch_unix_s[i] > old_epoch
    assert cat.lines[i][0] == newer.lines[0][0]
    assert cat.revision == 1 and cat.satrec_array is not array_before

    older = Catalogue.from_tle_text(f"{name}\n{with_epoch(line1, '26100.50000000')}\n{line2}\n")
    assert cat.update(older) == 0
    assert cat.update(newer) == 0  # equal epoch is ignored too
    assert cat.lines[cat.index_of([norad_id])[0]][0] == newer.lines[0][0]
    assert cat.revision == 1

    extra = Catalogue.from_tle_text(as_text(geo_sets[3:5]))
    assert cat.update(extra) == 2
    assert len(cat) == 5 and np.all(np.diff(cat.norad_ids) > 0)
    assert len(cat.satrec_array.sgp4(np.array([2461191.5]), np.array([0.0]))[0]) == 5


def test_a_snapshot_keeps_the_sets_of_its_moment_through_updates(geo_sets):
    cat = Catalogue.from_tle_text(as_text(geo_sets[:3]))
    frozen = cat.snapshot()
    ids, epochs, lines = frozen.norad_ids.copy(), frozen.epoch_unix_s.copy(), list(frozen.lines)
    name, line1, line2 = geo_sets[0]
    newer = Catalogue.from_tle_text(f"{name}\n{with_epoch(line1, '26160.50000000')}\n{line2}\n")
    assert cat.update(newer) == 1
    assert cat.update(Catalogue.from_tle_text(as_text(geo_sets[3:5]))) == 2
    assert len(cat) == 5 and len(frozen) == 3 and frozen.revision == 0
    assert np.array_equal(frozen.norad_ids, ids) and np.array_equal(frozen.epoch_unix_s, epochs)
    assert frozen.lines == lines and len(frozen.satrecs) == 3
    assert frozen.subset([0]).lines == [lines[0]]


def test_duplicates_in_one_text_keep_the_newest_epoch(geo_sets):
    name, line1, line2 = geo_sets[0]
    newer = with_epoch(line1, "26170.00000000")
    older = with_epoch(line1, "26100.00000000")
    for order in ((older, newer, line1), (newer, line1, older)):
        text = "".join(f"{name}\n{first}\n{line2}\n" for first in order)
        cat = Catalogue.from_tle_text(text)
        assert len(cat) == 1 and cat.lines[0][0] == newer


def test_omm_epoch_forms_and_six_digit_ids(full):
    i = int(full.index_of([25544])[0])
    record = omm_fields(full, i)
    record.update(NORAD_CAT_ID=100001, EPOCH=record["EPOCH"] + "7Z")  # 7 decimals and a zone
    cat = Catalogue.from_records([record])
    assert cat.norad_ids.tolist() == [100001]
    assert cat.lines[0][0][2:7] == "A0001" and cat.lines[0][1][2:7] == "A0001"
    assert cat.epoch_unix_s[0] == pytest.approx(full.epoch_unix_s[i], abs=1e-5)
    assert positions_agree(cat.satrecs[0], full.satrecs[i]) < 1e-3
    whole_seconds = dict(record, EPOCH=record["EPOCH"].split(".")[0])
    assert Catalogue.from_records([whole_seconds]).epoch_unix_s[0] == pytest.approx(
        np.floor(full.epoch_unix_s[i]), abs=1e-5
    )
