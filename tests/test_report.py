"""``obscat report`` / :meth:`Catalog.report`: the page's tables against the catalogue, its figures
embedded, user strings escaped, the same bytes twice, bad input refused; on both backends."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest
from astropy import units as u
from astropy.coordinates import SkyCoord
from conftest import TUTORIAL_CONE, sky_cone
from typer.testing import CliRunner

from obscat import InputError, NotFoundError
from obscat.cli.app import app
from obscat.errors import EmptyCatalogError

TUTORIAL = sky_cone(*TUTORIAL_CONE)
HOSTILE = "<script>alert('x')</script> & \"co\""


class Page(HTMLParser):
    """The tables (by ``data-table`` and ``data-name``: their body rows as cell texts), the images
    and every ``src``/``href`` of a report."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tables: dict[tuple[str, str], list[list[str]]] = {}
        self.images: list[dict] = []
        self.links: list[str] = []
        self._rows: list[list[str]] | None = None
        self._body = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.links += [attrs[a] for a in ("src", "href") if attrs.get(a)]
        if tag == "img":
            self.images.append(attrs)
        elif tag == "table":
            self._rows = self.tables.setdefault((attrs["data-table"], attrs.get("data-name", "")), [])
        elif tag == "tbody":
            self._body = True
        elif tag == "tr" and self._body and self._rows is not None:
            self._rows.append([])
        elif tag == "td" and self._body and self._rows is not None:
            self._rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "table":
            self._rows, self._body = None, False

    def handle_data(self, data):
        if self._body and self._rows and self._rows[-1]:
            self._rows[-1][-1] += data.rstrip("\n")  # the line break between rows


@pytest.fixture
def grouped(hess):
    """The tutorial's zenith split and IRF clusters, a match, and a grouping with a hostile name."""
    hess.split("zenith", "zen_pnt_deg", selection=TUTORIAL)
    hess.cluster("irf", ["edisp-res", "psf-radius"], energy_true="1 TeV", selection=TUTORIAL, n_groups=2,
                 position=SkyCoord(329.71693826 * u.deg, -30.2255890 * u.deg))  # fmt: skip
    hess.match("pairs", "object('PKS 2155*')", "not object('PKS 2155*')", preset="hess-runmatch")
    hess.group_by(HOSTILE, "n_tels")
    return hess


def _count(catalog, statement: str, **params) -> int:
    return int(catalog.sql(statement, params)[0][0])


def test_the_tables_hold_what_the_catalogue_holds(grouped, tmp_path):
    path = grouped.report(tmp_path / "report.html")
    page = Page(path.read_text())
    (store,) = grouped.stores()
    assert page.tables[("stores", "")] == [[store.name, store.telescope, "105", "105", str(store.n_hdu),
                                            str(store.n_files), "0", store.first_utc, store.last_utc, store.root_path]]  # fmt: skip
    per_target = grouped.sql("SELECT object, count(*) AS n, sum(livetime_s) AS t FROM observation GROUP BY object "
                             "ORDER BY count(*) DESC, object")  # fmt: skip
    rows = page.tables[("targets", "")]
    assert [(r[0], int(r[1])) for r in rows] == [(str(t["object"]), int(t["n"])) for t in per_target]
    assert [float(r[2]) for r in rows] == pytest.approx([t["t"] / 3600 for t in per_target], rel=1e-5)
    for name in ("zenith", "irf", "pairs", HOSTILE):
        members = grouped.grouping(name).members
        assert page.tables[("members", name)] == [[str(m["label"]), str(m["store"]), str(m["obs_id"])] for m in members]
        groups = grouped.sql("SELECT m.label, count(*) FROM group_member m JOIN grouping g ON g.id = m.grouping_id "
                             "WHERE g.name = :n GROUP BY m.label ORDER BY m.label", {"n": name})  # fmt: skip
        assert page.tables[("groups", name)] == [[str(r[0]), str(r[1])] for r in groups]
    grouping_id = _count(grouped, "SELECT id FROM grouping WHERE name = :n", n="pairs")
    pairs = page.tables[("pairs", "pairs")]
    assert len(pairs) == _count(grouped, "SELECT count(*) FROM match_pair WHERE grouping_id = :g", g=grouping_id) > 1
    assert {kind for kind, name in page.tables if name in ("zenith", "irf", HOSTILE)} == {"groups", "members"}
    stored = grouped.sql("SELECT on_o.obs_id, off_o.obs_id, p.rank, p.distance FROM match_pair p "
                         "JOIN observation on_o ON on_o.id = p.on_observation_id "
                         "JOIN observation off_o ON off_o.id = p.off_observation_id "
                         "WHERE p.grouping_id = :g ORDER BY on_o.obs_id, p.rank", {"g": grouping_id})  # fmt: skip
    assert [(int(r[1]), int(r[3]), int(r[4])) for r in pairs] == [(int(r[0]), int(r[1]), int(r[2])) for r in stored]
    assert [float(r[5]) for r in pairs] == pytest.approx([float(r[3]) for r in stored], rel=1e-5)
    on, off = int(pairs[-1][1]), int(pairs[-1][3])  # a pair's OBS_IDs, looked up in the DB
    assert _count(grouped, "SELECT count(*) FROM match_pair p JOIN observation a ON a.id = p.on_observation_id "
                  "JOIN observation b ON b.id = p.off_observation_id WHERE p.grouping_id = :g AND a.obs_id = :on "
                  "AND b.obs_id = :off", g=grouping_id, on=on, off=off) == 1  # fmt: skip
    assert {r[0] for r in pairs} == {r[2] for r in pairs} == {store.name}
    text = path.read_text()
    assert f"<summary>{len(pairs)} pairs</summary>" in text
    fs = grouped.feature_sets()[0]
    assert f'<h3 id="{fs.name}">{fs.name}</h3>' in text and "&quot;n_groups&quot;: 2" in text  # the clustering's provenance


def test_the_page_is_self_contained_and_escapes_user_strings(grouped, tmp_path):
    text = grouped.report(tmp_path / "report.html").read_text()
    page = Page(text)
    assert all(link.startswith(("data:image/svg+xml;base64,", "#")) for link in page.links), page.links
    alts = [image["alt"] for image in page.images]
    # pointings, livetime, zenith/muoneff, the feature set; the groupings' figures
    assert alts == ["pointings on the sky", "livetime per month", "zenith and muon efficiency distributions",
                    f"feature distributions of {grouped.feature_sets()[0].name}", f"sky of grouping {HOSTILE}",
                    "dendrogram of grouping irf", "scatter of grouping irf", "pairs of grouping pairs",
                    "scatter of grouping zenith"]  # fmt: skip
    for image in page.images:
        svg = base64.b64decode(image["src"].split(",", 1)[1]).decode()
        assert svg.startswith("<?xml") and "<svg" in svg
        assert not re.findall(r'(?:href|src)="(?!data:image/png;base64,|#)', svg)  # nothing an SVG image would load
    assert "<script" not in text and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;" in text
    assert not re.search(r"(src|href)=\"(https?:)?//", text) and "url(" not in text and "@import" not in text


def test_the_same_catalogue_gives_the_same_bytes_but_the_time(grouped, tmp_path):
    first = grouped.report(tmp_path / "a.html").read_text().splitlines()
    second = grouped.report(tmp_path / "b.html").read_text().splitlines()
    assert len(first) == len(second)
    differ = [i for i, (a, b) in enumerate(zip(first, second)) if a != b]
    stamped = [i for i, line in enumerate(first) if 'class="generated"' in line]
    assert len(stamped) == 1 and set(differ) <= set(stamped)


def test_selection_and_groupings(grouped, db_url, tmp_path):
    path = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["--db", db_url, "report", "-o", str(path), "--grouping", "zenith", "--cone",
                                      " ".join(map(str, TUTORIAL_CONE))])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert re.fullmatch(rf"wrote {re.escape(str(path))} \(\d+\.\d MB\)\n", result.stdout)
    page = Page(path.read_text())
    assert [r[3] for r in page.tables[("stores", "")]] == ["21"]
    assert [(r[0], r[1]) for r in page.tables[("targets", "")]] == [("PKS 2155-304", "21")]
    assert {kind for kind, name in page.tables if name} == {"groups", "members"}
    assert {name for _, name in page.tables if name} == {"zenith"}
    features = [i for i in page.images if i["alt"].startswith("feature distributions")]
    assert len(features) == 1 and "selected observations<dd>21" in path.read_text()


def test_bad_input_writes_nothing(grouped, db_url, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    path = out / "report.html"
    with pytest.raises(NotFoundError, match="^no grouping named 'nope'$"):
        grouped.report(path, groupings=["zenith", "nope"])
    result = CliRunner().invoke(app, ["--db", db_url, "report", "-o", str(path), "-g", "nope"])
    assert (result.exit_code, result.stderr) == (1, "Error: no grouping named 'nope'\n")
    result = CliRunner().invoke(app, ["--db", db_url, "report", "-o", str(out / "missing" / "r.html")])
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot write the report to {out}/missing/r.html: No such file or directory\n"
    assert list(out.iterdir()) == []


def test_an_existing_file_is_replaced_only_when_asked(grouped, db_url, tmp_path):
    path = tmp_path / "report.html"
    path.write_text("my notes")
    with pytest.raises(InputError, match=re.escape(f"{path}: exists, not overwritten (`overwrite=True` replaces it)")):
        grouped.report(path)
    result = CliRunner().invoke(app, ["--db", db_url, "report", "-o", str(path)])
    assert (result.exit_code, result.stderr) == (1, f"Error: {path}: exists, not overwritten (--overwrite replaces it)\n")
    assert path.read_text() == "my notes"
    result = CliRunner().invoke(app, ["--db", db_url, "report", "-o", str(path), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert Page(path.read_text()).tables[("stores", "")]
    assert grouped.report(path, overwrite=True) == path


def test_an_empty_catalogue_is_refused(catalog, tmp_path):
    with pytest.raises(EmptyCatalogError, match="^the catalogue is empty: run `obscat ingest`"):
        catalog.report(tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_a_big_clustering_gets_no_dendrogram(grouped, tmp_path, monkeypatch):
    monkeypatch.setattr("obscat.report.page.MAX_DENDROGRAM_LEAVES", 20)  # irf holds 21
    text = grouped.report(tmp_path / "report.html", groupings=["irf"]).read_text()
    assert [i["alt"] for i in Page(text).images if "grouping" in i["alt"]] == ["scatter of grouping irf"]
    assert "no dendrogram: rebuilding the tree of 21 observations takes O(N²) time" in text
