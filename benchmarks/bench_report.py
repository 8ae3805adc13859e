"""The HTML report of a 100,000-observation catalogue: time, peak memory and size, on SQLite and
PostgreSQL.

    python benchmarks/bench_report.py [--n 100000] [--repeat 3] [--backends sqlite postgresql]

Each catalogue is bench_cluster.py's (a synthetic store ingested, with a feature set of edisp-res
and psf-radius synthesized from zenith and muon efficiency), built once (SQLite in the work
directory, PostgreSQL in database ``obscat_bench_report``), plus three groupings over every
observation: a median zenith split, one group per telescope count and a 10-group Ward
clustering on the features, and an OFF-run match: the PKS 2155-304 runs against the survey
runs (zenith within 5 deg, muon efficiency within 0.05). The report shows them all: every
section, eight figures (four with 100,000 points, drawn as PNG inside the SVG; the clustering
is too big for a dendrogram), three member tables of 100,000 rows, the match's members and its
table of pairs.

Timed: ``obscat report`` as a whole process, and ``Catalog.report`` in process, alternating; the
two pages of a catalogue must be identical but for the line saying when (the rasterised figures
included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_cluster import FEATURES, build
from harness import alternate, pg_database, report, run_process, save, timed

OBSCAT = str(Path(sys.executable).parent / "obscat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backends", nargs="+", choices=["sqlite", "postgresql"], default=["sqlite", "postgresql"])
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)

    from obscat import Catalog
    from obscat.group import Median

    urls = {"SQLite": build(args.work_dir, args.n)} if "sqlite" in args.backends else {}
    if "postgresql" in args.backends:
        urls["PostgreSQL"] = build(args.work_dir, args.n, pg_database("obscat_bench_report"))
    cases, outputs, catalogs = {}, {}, []
    for label, url in urls.items():
        catalog = Catalog(url)
        catalogs.append(catalog)
        feature_set = catalog.feature_sets()[0].name
        have = {g.name for g in catalog.groupings()}
        if "zenith" not in have:
            catalog.split("zenith", "zen_pnt_deg", at=Median())
        if "telescopes" not in have:
            catalog.group_by("telescopes", "n_tels")
        if "pks-off" not in have:
            catalog.match("pks-off", "object('PKS 2155-304')", "object('survey')",
                          max_delta={"zenith": "5 deg", "muoneff": 0.05})  # fmt: skip
        if "irf" not in have:
            print(f"clustering {args.n} observations ({label}) ...")
            catalog.cluster("irf", list(FEATURES), feature_set=feature_set, n_groups=10)
        process_out, api_out = (args.work_dir / f"report-{label}-{how}.html" for how in ("process", "api"))
        outputs[label] = (process_out, api_out)
        cases[f"obscat report, {label} (process)"] = lambda url=url, out=process_out: run_process(
            [OBSCAT, "--db", url, "report", "-o", str(out), "--overwrite"])  # fmt: skip
        cases[f"Catalog.report, {label} (in process)"] = timed(lambda c=catalog, out=api_out: c.report(out, overwrite=True))
    measurements = alternate(cases, args.repeat)
    rows = report(f"the HTML report of {args.n} observations, 3 groupings of {args.n} members and a match", measurements)
    same = all(_untimed(process_out) == _untimed(api_out) for process_out, api_out in outputs.values())
    sizes = {label: api_out.stat().st_size for label, (_, api_out) in outputs.items()}
    print("  report size: " + ", ".join(f"{label} {size / 1e6:.1f} MB" for label, size in sizes.items()))
    print(f"  the two reports of each catalogue identical but for the time line: {same}")
    for catalog in catalogs:
        catalog.close()
    save("report", {"n": args.n, "measurements": rows, "size_bytes": sizes, "identical_but_the_time": same})


def _untimed(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if 'class="generated"' not in line]


if __name__ == "__main__":
    main()
