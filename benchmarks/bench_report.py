"""The HTML report of a 100,000-observation catalogue: time, peak memory and size.

    python benchmarks/bench_report.py [--n 100000] [--repeat 3]

The catalogue is bench_cluster.py's (a synthetic store ingested into SQLite, with a feature set
of edisp-res and psf-radius synthesized from zenith and muon efficiency), built once into the
work directory, plus three groupings over every observation: a median zenith split, one group
per telescope count and a 10-group Ward clustering on the features. The report shows them all:
every section, seven figures (four with 100,000 points, drawn as PNG inside the SVG; the
clustering is too big for a dendrogram) and three member tables of 100,000 rows.

Timed: ``obscat report`` as a whole process, and ``Catalog.report`` in process, alternating; the
two pages must be identical but for the line saying when (the rasterised figures included).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_cluster import FEATURES, build
from harness import alternate, report, run_process, save, timed

OBSCAT = str(Path(sys.executable).parent / "obscat")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "obscat-bench")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)

    from obscat import Catalog
    from obscat.group import Median

    url = build(args.work_dir, args.n)
    catalog = Catalog(url)
    feature_set = catalog.feature_sets()[0].name
    have = {g.name for g in catalog.groupings()}
    if "zenith" not in have:
        catalog.split("zenith", "zen_pnt_deg", at=Median())
    if "telescopes" not in have:
        catalog.group_by("telescopes", "n_tels")
    if "irf" not in have:
        catalog.cluster("irf", list(FEATURES), feature_set=feature_set, n_groups=10)
    process_out, api_out = args.work_dir / "report-process.html", args.work_dir / "report-api.html"
    cases = {
        f"obscat report (process, N={args.n})": lambda: run_process([OBSCAT, "--db", url, "report", "-o", str(process_out)]),
        f"Catalog.report (in process, N={args.n})": timed(lambda: catalog.report(api_out)),
    }
    measurements = alternate(cases, args.repeat)
    rows = report(f"the HTML report of {args.n} observations, 3 groupings of {args.n} members", measurements)
    size = api_out.stat().st_size
    same = _untimed(process_out) == _untimed(api_out)
    print(f"  report size: {size / 1e6:.1f} MB; the two reports identical but for the time line: {same}")
    catalog.close()
    save("report", {"n": args.n, "measurements": rows, "size_bytes": size, "identical_but_the_time": same})


def _untimed(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if 'class="generated"' not in line]


if __name__ == "__main__":
    main()
