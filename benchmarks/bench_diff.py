"""Benchmark: gisfix vintage diff vs the geopandas operations people would use instead.

Swiss municipalities 2018 -> 2024 (embedded data), in one process:

* ``gisfix.edits.diff.diff(old, new)`` against a plain
  ``geopandas.overlay(old, new, how="intersection")`` of the two vintages (the overlap
  table that any manual diff starts from);
* the diff + edit round trip (``diff`` then ``apply_scenario``) against a geopandas
  ``dissolve`` of the same merge groups (the natural lower bound of applying the merges).
  The vintages are read with ``read_boundaries``, which tests their validity, so the diff
  does not test it again; the round trip on frames gisfix did not read is printed too.

Prints the ratios (best of ``--repeat`` runs each).  Timings depend on machine load.
"""

from __future__ import annotations

import argparse
import time
import warnings


def best(fn, repeat, setup=None):
    """Best time of ``repeat`` calls of ``fn`` (of ``fn(*setup())``, setup not timed)."""
    times = []
    out = None
    for _ in range(repeat):
        args = setup() if setup else ()
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return min(times), out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    warnings.simplefilter("ignore")

    import geopandas as gpd

    from gisfix import datasets
    from gisfix.edits import apply_scenario
    from gisfix.edits.diff import diff

    old, new = datasets.load("swiss-2018"), datasets.load("swiss-2024")
    t_diff, res = best(lambda: diff(old, new), args.repeat)
    t_overlay, ov = best(lambda: gpd.overlay(old.reset_index(), new.reset_index(),
                                             how="intersection", keep_geom_type=True),
                         args.repeat)
    t_apply, _ = best(lambda: apply_scenario(old, res.scenario), args.repeat)

    groups = {}
    for e in res.edits:
        if e["op"] == "merge":
            for u in e["units"]:
                groups[u] = e["into"]
    keyed = old.assign(group=[groups.get(i, i) for i in old.index])
    t_dissolve, _ = best(lambda: keyed.dissolve(by="group"), args.repeat)
    # frames gisfix did not read: the diff tests every polygon's validity again (polygons
    # read_boundaries found valid are not tested twice)
    import shapely

    def unread():
        return [f.set_geometry(shapely.from_wkb(shapely.to_wkb(f.geometry.values)))
                for f in (old, new)]
    t_cold, _ = best(diff, args.repeat, setup=unread)

    counts = {op: sum(e["op"] == op for e in res.edits) for op in ("merge", "split",
                                                                   "transfer", "recode")}
    print(f"Swiss 2018 -> 2024: {len(old)} -> {len(new)} units; edits {counts}; "
          f"overlay pieces {len(ov)}")
    print(f"diff / overlay(intersection)         = {t_diff / t_overlay:6.2f}  "
          f"({t_diff:.2f} s vs {t_overlay:.2f} s)")
    print(f"(diff + apply) / dissolve(merges)    = {(t_diff + t_apply) / t_dissolve:6.2f}  "
          f"({t_diff + t_apply:.2f} s vs {t_dissolve:.2f} s)")
    print(f"  of which diff / dissolve = {t_diff / t_dissolve:.2f}, apply / dissolve = "
          f"{t_apply / t_dissolve:.2f} (aim: the sum <= 3)")
    print(f"  on frames not read by gisfix (validity tested in the diff): "
          f"{(t_cold + t_apply) / t_dissolve:.2f}")
    print("timings: best of", args.repeat, "runs; machine shared with other jobs")


if __name__ == "__main__":
    main()
