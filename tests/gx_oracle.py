"""The oracle of tests/gx_differential.rs: runs Great Expectations 1.x itself on many cases.

Usage: python3 tests/gx_oracle.py MANIFEST.json OUT.json

MANIFEST is a list of {"case": NAME, "csv": PATH, "suite": PATH} (with "parquet": PATH, the
frame pandas read is also written there as Parquet). Each CSV is read with pandas'
read_csv defaults (what GX's pandas CSV asset does), validated in one ephemeral GX context
(GX's start-up is slow, so every case shares it) against its suite with result_format COMPLETE.
OUT gets {NAME: [one entry per expectation of the suite, in suite order]}, each entry either
{"rejected": MESSAGE} (GX refused the configuration) or the fields the Rust test compares.
Floats that JSON cannot hold (NaN, inf) are written as the strings "NaN", "Infinity", "-Infinity".
"""

import json
import math
import os
import sys
import warnings

os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
warnings.filterwarnings("ignore")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.core.expectation_suite import ExpectationSuite  # noqa: E402
from great_expectations.expectations.expectation_configuration import (  # noqa: E402
    ExpectationConfiguration,
)


def plain(value):
    """A JSON-safe copy of a result value: numpy scalars to Python, non-finite floats named."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def same_expectation(left, right):
    """Equal but for meta and id, with defaults filled in (what GX deduplicates)."""
    if left is None or right is None or type(left) is not type(right):
        return False
    fields = {"meta", "id", "notes", "description"}
    return left.dict(exclude=fields) == right.dict(exclude=fields)


def raised_exception(exception_info):
    """Whether GX caught an exception for the expectation, and its message: exception_info is
    either one {"raised_exception", "exception_message"} or, when a metric failed, a dict of
    them keyed by metric."""
    infos = [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    for info in infos:
        if isinstance(info, dict) and info.get("raised_exception"):
            return True, info.get("exception_message")
    return False, None


def main():
    manifest_path, out_path = sys.argv[1], sys.argv[2]
    with open(manifest_path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    context = gx.get_context(mode="ephemeral")
    asset = context.data_sources.add_pandas("oracle").add_dataframe_asset("frame")
    batch_definition = asset.add_batch_definition_whole_dataframe("whole")
    out = {}
    for case in manifest:
        with open(case["suite"], encoding="utf-8") as handle:
            suite_json = json.load(handle)
        frame = pd.read_csv(case["csv"])
        if case.get("parquet"):
            # The same frame as Parquet, for kiroku's read_parquet path: GX's answers hold for it.
            frame.to_parquet(case["parquet"])
        batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
        suite = ExpectationSuite(name=suite_json.get("name", case["case"]))
        entries = []
        domain_objects = []
        for index, expectation in enumerate(suite_json["expectations"]):
            entries.append(None)
            domain_objects.append(None)
            try:
                # add_expectation_configuration would replace an expectation of the same type
                # and column; add_expectation keeps both unless they are equal.
                configuration = ExpectationConfiguration(
                    type=expectation["type"],
                    kwargs=expectation.get("kwargs", {}),
                    meta={"oracle_index": index},
                )
                domain_objects[index] = configuration.to_domain_obj()
                suite.add_expectation(domain_objects[index])
            except Exception as error:  # GX refused the configuration
                entries[index] = {"rejected": f"{type(error).__name__}: {error}"}
        validation = batch.validate(suite, result_format="COMPLETE")
        for result in validation.results:
            index = result.expectation_config.meta["oracle_index"]
            body = result.result or {}
            raised, message = raised_exception(result.exception_info)
            entries[index] = {
                "success": bool(result.success),
                "raised": raised,
                "exception": message,
                "observed_value": plain(body.get("observed_value")),
                "has_observed_value": "observed_value" in body,
                "element_count": plain(body.get("element_count")),
                "missing_count": plain(body.get("missing_count")),
                "unexpected_count": plain(body.get("unexpected_count")),
                "unexpected_percent": plain(body.get("unexpected_percent")),
                "unexpected_index_list": plain(body.get("unexpected_index_list")),
                "details": plain(body.get("details")),
            }
        # GX keeps one of several identical expectations (meta aside): the others share its result.
        # (equal with GX's defaults filled in: `mostly: 1.0` equals no `mostly`).
        for index, expectation in enumerate(domain_objects):
            if entries[index] is None:
                for other in range(len(entries)):
                    if entries[other] is not None and same_expectation(domain_objects[other], expectation):
                        entries[index] = entries[other]
                        break
        out[case["case"]] = entries
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
