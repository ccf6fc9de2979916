"""Makes real result files for tests/check_import.rs with the tools themselves.

Usage:
  python3 tests/check_import_gen.py gx DIR    # GX 1.x: DIR/people.csv, suite.json, validation.json, checkpoint.json
  python3 tests/check_import_gen.py soda DIR  # soda-core (DuckDB): DIR/people.csv, scan.json

The GX run is a Checkpoint over a pandas CSV asset (result_format COMPLETE): validation.json is
the validation result's to_json_dict(), checkpoint.json the checkpoint result with its run
results keyed as GX keys them, suite.json the suite itself. The Soda scan's scan.json is what
`soda scan -srf` writes (Scan.get_scan_results()). Python's json writes NaN as a bare token,
as the tools' own files do.
"""

import json
import os
import sys
import warnings

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore")

PEOPLE = (
    "id,age,plan,score,name\n"
    "1,34,free,0.5,ann\n"
    "2,NA,pro,0.75,bob\n"
    "3,130,team,,cy\n"
    "3,-1,gold,0.25,dee\n"
    "5,40,free,1.5,\n"
    "6,29,pro,2.5,fay\n"
)


def write_people(directory):
    path = os.path.join(directory, "people.csv")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(PEOPLE)
    return path


def gx_results(directory):
    import great_expectations as gx
    import great_expectations.expectations as gxe

    csv_path = write_people(directory)
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("files").add_csv_asset("people", filepath_or_buffer=csv_path)
    batch_definition = asset.add_batch_definition_whole_dataframe("all")
    suite = context.suites.add(gx.ExpectationSuite(name="people_suite"))
    suite.add_expectation(gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=10))
    suite.add_expectation(gxe.ExpectColumnValuesToBeUnique(column="id"))
    suite.add_expectation(gxe.ExpectColumnValuesToBeBetween(column="age", min_value=0, max_value=120))
    suite.add_expectation(
        gxe.ExpectColumnValuesToBeInSet(column="plan", value_set=["free", "pro", "team"], mostly=0.8)
    )
    suite.add_expectation(gxe.ExpectColumnValuesToNotBeNull(column="score", severity="warning"))
    suite.add_expectation(gxe.ExpectColumnMeanToBeBetween(column="score", min_value=0, max_value=1))
    suite.add_expectation(gxe.ExpectColumnMeanToBeBetween(column="name", min_value=0, max_value=1))
    suite.add_expectation(gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="id", column_B="score"))
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name="people_check", data=batch_definition, suite=suite)
    )
    checkpoint = context.checkpoints.add(
        gx.Checkpoint(name="nightly", validation_definitions=[definition], result_format="COMPLETE")
    )
    result = checkpoint.run()
    (key, validation), = result.run_results.items()
    with open(os.path.join(directory, "validation.json"), "w", encoding="utf-8") as handle:
        json.dump(validation.to_json_dict(), handle)
    with open(os.path.join(directory, "checkpoint.json"), "w", encoding="utf-8") as handle:
        json.dump(
            {
                "name": result.name,
                "success": result.success,
                "run_id": result.run_id.to_json_dict(),
                "run_results": {str(key): {"validation_result": validation.to_json_dict()}},
            },
            handle,
        )
    with open(os.path.join(directory, "suite.json"), "w", encoding="utf-8") as handle:
        json.dump(suite.to_json_dict(), handle)


def soda_scan(directory):
    import duckdb
    from soda.scan import Scan

    csv_path = write_people(directory)
    connection = duckdb.connect(":memory:")
    connection.execute(f"create table people as select * from read_csv_auto('{csv_path}')")
    scan = Scan()
    scan.set_scan_definition_name("people_scan")
    scan.set_data_source_name("duckdb")
    scan.add_duckdb_connection(connection)
    scan.add_sodacl_yaml_str(
        """
checks for people:
  - row_count between 1 and 10
  - missing_count(age) = 0
  - duplicate_count(id) = 0
  - max(score) < 10:
      name: scores stay small
  - missing_count(name):
      warn: when > 0
      fail: when > 3
  - invalid_count(plan) = 0:
      valid values: [free, pro, team]
"""
    )
    scan.execute()
    with open(os.path.join(directory, "scan.json"), "w", encoding="utf-8") as handle:
        json.dump(scan.get_scan_results(), handle, default=str)


if __name__ == "__main__":
    {"gx": gx_results, "soda": soda_scan}[sys.argv[1]](sys.argv[2])
