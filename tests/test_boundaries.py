"""Reading boundaries: every real vintage in ../shared/data with the right CRS, and every
bad-input case with its message, through the API and through the CLI."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from gisfix import CRSError, GeometryError, IdError, InputFileError, datasets, read_boundaries
from gisfix.boundaries import fix_mojibake

#: (folder, year) -> horizontal EPSG after resolving compound CRSs.
SWISS_EPSG = {"2010": 21781, "2015": 21781, "2016": 21781, "2017": 2056, "2018": 2056,
              "2021": 2056, "2024": 2056, "2026": 2056}


@pytest.mark.shared
@pytest.mark.parametrize("year", sorted(SWISS_EPSG))
def test_swiss_vintages_resolve_crs(shared, year):
    gdf = read_boundaries(shared("swiss_municipalities", year, "municipalities.shp"), id_col="id")
    assert gdf.crs.to_epsg() == SWISS_EPSG[year]
    assert pd.api.types.is_string_dtype(gdf.index) and gdf.index.is_unique
    assert gdf.index[0] == "1"  # float ids 1.0 become "1"


@pytest.mark.shared
def test_swiss_2022_05_mojibake_fixed_on_request(shared):
    path = shared("swiss_municipalities", "2022-05", "municipalities.shp")
    raw = read_boundaries(path, id_col="id")
    fixed = read_boundaries(path, id_col="id", fix_text=True)
    assert raw["name"].str.contains("Ã").any()
    assert not fixed["name"].str.contains("Ã").any()
    assert fixed.loc["261", "name"] == "Zürich"


@pytest.mark.shared
def test_lausanne_compound_crs(shared):
    gdf = read_boundaries(shared("clc_lausanne", "agglomeration_municipalities_2018.shp"),
                          id_col="GMDNR")
    assert gdf.crs.to_epsg() == 2056
    assert len(gdf) == 1449
    assert gdf["GMDNAME"].str.contains("ü|é|è").any()  # ISO-8859-1 .cpg honoured


@pytest.mark.shared
def test_china_custom_albers(shared):
    gdf = read_boundaries(shared("china_counties_2020", "china_counties_2020.gpkg"),
                          id_col="CODE", layer="county", make_valid=True)
    assert len(gdf) == 2990
    assert gdf.crs.is_projected and "Albers" in gdf.crs.coordinate_operation.method_name
    assert gdf.attrs["gisfix"]["repaired"] == 17
    assert gdf["POPU"].sum() == 1_409_878_724


@pytest.mark.shared
def test_china_invalid_polygons_are_an_error(shared):
    with pytest.raises(GeometryError, match=r"17 of 2990 polygons are invalid .*make_valid=True"):
        read_boundaries(shared("china_counties_2020", "china_counties_2020.gpkg"),
                        id_col="CODE", layer="county")


@pytest.mark.shared
def test_wuhu_repair_reports_area_change(shared):
    path = shared("china_wuhu_adjustment", "wuhu_before.geojson")
    with pytest.raises(GeometryError, match="polygons are invalid"):
        read_boundaries(path, id_col="adcode")
    gdf = read_boundaries(path, id_col="adcode", make_valid=True)
    rep = gdf.attrs["gisfix"]
    assert rep["repaired"] >= 4 and 0 <= rep["area_change_rel"] < 0.01
    assert gdf.is_valid.all()


@pytest.mark.shared
def test_topojson_without_crs(shared):
    path = shared("virginia_vintages", "us_counties_2017.topojson")
    with pytest.raises(CRSError, match="has no CRS.*crs='EPSG:4326'"):
        read_boundaries(path, id_col="id", layer="states")
    states = read_boundaries(path, id_col="id", layer="states", crs="EPSG:4326")
    assert states.crs.to_epsg() == 4326 and len(states) == 56


@pytest.mark.shared
def test_dc_counties_mollweide(shared):
    gdf = read_boundaries(shared("ghsl_dc_baltimore", "counties_2017_census.gpkg"), id_col="fips")
    assert len(gdf) == 30 and gdf.crs.to_authority() == ("ESRI", "54009")


def test_embedded_virginia_2017_defects_named_and_fixable():
    # us-atlas's 1:10m counties have Falls Church city (51610) with no polygon at all,
    # and three invalid polygons
    with pytest.raises(GeometryError, match="empty or missing geometry \\(ids 51610\\)"):
        datasets.load("virginia-2017")
    with pytest.raises(GeometryError, match="3 of 132 polygons are invalid"):
        datasets.load("virginia-2017", drop_empty=True)
    gdf = datasets.load("virginia-2017", make_valid=True, drop_empty=True)
    assert gdf.is_valid.all() and len(gdf) == 132
    assert gdf.attrs["gisfix"]["area_change_rel"] < 1e-4


# -- synthetic bad input (answers known by construction) -------------------------------------
def _write(tmp_path, gdf, name="units.gpkg"):
    path = tmp_path / name
    gdf.to_file(path)
    return path


def test_missing_file():
    with pytest.raises(InputFileError, match="no such boundary file"):
        read_boundaries("nope.gpkg", id_col="id")


def test_unknown_id_column_lists_columns(tmp_path):
    path = _write(tmp_path, gpd.GeoDataFrame({"code": ["a"]}, geometry=[box(0, 0, 1, 1)],
                                             crs=3035))
    with pytest.raises(IdError, match="has no column 'id'; its columns are: code"):
        read_boundaries(path, id_col="id")


def test_duplicate_and_missing_ids(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a", "a", "b"]}, geometry=[box(0, 0, 1, 1)] * 3, crs=3035)
    with pytest.raises(IdError, match="1 duplicated ids \\(a\\)"):
        read_boundaries(_write(tmp_path, g), id_col="id")
    g2 = gpd.GeoDataFrame({"id": ["a", None]}, geometry=[box(0, 0, 1, 1)] * 2, crs=3035)
    with pytest.raises(IdError, match="1 features have no value in id column"):
        read_boundaries(_write(tmp_path, g2, "u2.gpkg"), id_col="id")


def test_non_polygons(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(0, 0, 1, 1), Point(0, 0)], crs=3035)
    with pytest.raises(GeometryError, match="1 features are not polygons \\(1 Point; ids b\\)"):
        read_boundaries(_write(tmp_path, g, "mixed.geojson"), id_col="id")


def test_empty_geometry(tmp_path):
    g = gpd.GeoDataFrame({"id": ["a", "b"]}, geometry=[box(0, 0, 1, 1), Polygon()], crs=3035)
    path = _write(tmp_path, g, "empty.geojson")
    with pytest.raises(GeometryError, match="empty or missing geometry \\(ids b\\)"):
        read_boundaries(path, id_col="id")
    assert list(read_boundaries(path, id_col="id", drop_empty=True).index) == ["a"]


def test_bowtie_repaired_keeps_area(tmp_path):
    bowtie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])  # two triangles of area 1 each
    g = gpd.GeoDataFrame({"id": [1]}, geometry=[bowtie], crs=3035)
    path = _write(tmp_path, g, "bowtie.gpkg")
    with pytest.raises(GeometryError, match="Self-intersection"):
        read_boundaries(path, id_col="id")
    fixed = read_boundaries(path, id_col="id", make_valid=True)
    assert fixed.geometry.iloc[0].area == pytest.approx(2.0)
    assert fixed.index[0] == "1"


def test_fix_mojibake_hand_cases():
    assert fix_mojibake("ZÃ¼rich") == "Zürich"
    assert fix_mojibake("Zürich") == "Zürich"
    assert fix_mojibake(None) is None


def test_geoparquet_and_flatgeobuf_roundtrip(tmp_path):
    g = gpd.GeoDataFrame({"id": ["x", "y"]}, geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
                         crs=2056)
    g.to_parquet(tmp_path / "u.parquet")
    g.to_file(tmp_path / "u.fgb")
    for name in ("u.parquet", "u.fgb"):
        out = read_boundaries(tmp_path / name, id_col="id")
        # FlatGeobuf's spatial index may reorder features: compare by id
        assert sorted(out.index) == ["x", "y"] and out.crs.to_epsg() == 2056
        assert shapely.equals(out.geometry.loc["y"], box(1, 0, 2, 1))


def test_metres_in_a_lonlat_file(tmp_path):
    # GeoJSON without a CRS is lon/lat by definition: metre coordinates are refused
    path = tmp_path / "metres.geojson"
    gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(2_600_000, 1_200_000, 2_601_000, 1_201_000)]
                     ).to_file(path)
    with pytest.raises(CRSError, match="are not longitudes and latitudes; assign the CRS"):
        read_boundaries(path, id_col="id")


def test_unprojectable_coordinates():
    from gisfix.crs import to_crs_checked

    g = gpd.GeoDataFrame({"id": ["a"]}, geometry=[box(0, 0, 200, 200)], crs=4326)
    with pytest.raises(CRSError, match="cannot be projected from EPSG:4326 to EPSG:3035"):
        to_crs_checked(g, "EPSG:3035")
