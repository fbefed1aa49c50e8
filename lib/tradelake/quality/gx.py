"""Great Expectations 1.x glue: the project (suites, validation definitions, checkpoints, results store)
kept at settings.gx_dir, Data Docs built to <lakehouse>/ops/data_docs/, and validation results turned
into rows of ops.dq_results.

A Spark data source with one dataframe asset per suite; the DataFrame is passed at run time as a batch
parameter. Suites are rebuilt from tradelake.quality.rules on every run, so they never drift from the
declarations.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
from great_expectations.core.run_identifier import RunIdentifier  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402
from great_expectations.expectations.row_conditions import Column  # noqa: E402
from pyspark.sql import DataFrame  # noqa: E402

from tradelake.config import Settings  # noqa: E402
from tradelake.quality.rules import FAIL, Rule, Suite  # noqa: E402

log = logging.getLogger(__name__)

SITE = "tradelake"
DATASOURCE = "tradelake_spark"
SEVERITY = {FAIL: "critical", "warn": "warning"}
# Counts and percentages, without lists of unexpected values (each list costs a Spark job per
# expectation; the quarantine and the tables themselves show the rows).
RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": 0}
FINGERPRINT = "tradelake_fingerprint"  # suite meta: a hash of the declarations it was registered from


def _expectation(rule: Rule, index: int):
    cls = getattr(gx.expectations, rule.expectation)
    kwargs = dict(rule.kwargs)
    if kwargs.pop("only_parsed_lines", False):  # bronze: judge the lines that parsed; malformed ones have their own
        kwargs["row_condition"] = Column("_corrupt_record").is_null()
    return cls(**kwargs, severity=SEVERITY[rule.severity],
               meta={"rule": index, "severity": rule.severity, "why": rule.why})


class Project:
    """The Great Expectations project of a lakehouse."""

    def __init__(self, settings: Settings):
        self.settings = settings
        os.makedirs(settings.gx_dir, exist_ok=True)
        self.context = gx.get_context(mode="file", project_root_dir=settings.gx_dir)
        self.context.variables.progress_bars = ProgressBarsConfig(globally=False)
        if SITE not in self.context.get_site_names():
            self.context.add_data_docs_site(site_name=SITE, site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": settings.data_docs_dir},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            })
        try:  # kept with its assets (replacing it would drop them, and the checkpoints that use them)
            self.datasource = self.context.data_sources.get(DATASOURCE)
        except (KeyError, LookupError, ValueError):
            self.datasource = self.context.data_sources.add_spark(name=DATASOURCE)
        self.results: list = []  # identifiers of the validation results of this session


    def _batch_definition(self, name: str):
        try:
            asset = self.datasource.get_asset(name)
        except LookupError:
            asset = self.datasource.add_dataframe_asset(name=name)
        try:
            return asset.get_batch_definition("whole")
        except (KeyError, LookupError, ValueError):
            return asset.add_batch_definition_whole_dataframe("whole")

    def _checkpoint(self, suite: Suite):
        """The suite's checkpoint, registered (suite, validation definition, checkpoint) only when the
        stored one was built from other declarations: registering costs seconds per suite (Great
        Expectations compares the expectations pairwise), looking one up milliseconds."""
        expectations = [_expectation(r, i) for i, r in enumerate(suite.rules)]
        fingerprint = hashlib.sha256(json.dumps(
            [suite.name, RESULT_FORMAT, [e.configuration.to_json_dict() for e in expectations]],
            sort_keys=True, default=str).encode()).hexdigest()
        try:
            stored = self.context.checkpoints.get(suite.name)
            (definition,) = stored.validation_definitions
            if definition.suite.meta.get(FINGERPRINT) == fingerprint:
                return stored
        except Exception as e:  # noqa: BLE001 - absent or unreadable: registered again below
            log.debug("registering %s again: %s", suite.name, e)
        gx_suite = self.context.suites.add_or_update(
            gx.ExpectationSuite(name=suite.name, expectations=expectations, meta={FINGERPRINT: fingerprint}))
        definition = self.context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite.name, data=self._batch_definition(suite.name), suite=gx_suite))
        return self.context.checkpoints.add_or_update(
            gx.Checkpoint(name=suite.name, validation_definitions=[definition], result_format=RESULT_FORMAT))

    def validate(self, suite: Suite, frame: DataFrame, run_name: str) -> list[dict]:
        """Validate `frame` against `suite`; the results are stored (for Data Docs) and returned as
        one dict per expectation (the columns of ops.dq_results that Great Expectations knows)."""
        checkpoint = self._checkpoint(suite)
        result = checkpoint.run(batch_parameters={"dataframe": frame}, run_id=RunIdentifier(run_name=run_name))
        self.results.extend(result.run_results)
        rows = []
        for run in result.run_results.values():
            for r in run.results:
                rule = suite.rules[int(r.expectation_config.meta["rule"])]
                res = r.result or {}
                error = (r.exception_info or {}).get("exception_message") if not r.success else None
                observed = res.get("observed_value", error)
                rows.append({
                    "expectation": rule.expectation,
                    "column_name": rule.column or ",".join(rule.kwargs.get("column_list", [])) or None,
                    "kwargs": json.dumps({k: v for k, v in rule.kwargs.items() if k != "column"}, default=str, sort_keys=True),
                    "severity": rule.severity,
                    "why": rule.why,
                    "success": bool(r.success),
                    "observed_value": None if observed is None else json.dumps(observed, default=str)[:1000],
                    "element_count": res.get("element_count"),
                    "unexpected_count": res.get("unexpected_count"),
                    "unexpected_percent": res.get("unexpected_percent"),
                })
        return rows

    def build_data_docs(self) -> str:
        """Render this session's results (and the suites and index): older pages are already there."""
        self.context.build_data_docs(site_names=[SITE], resource_identifiers=self.results or None)
        return os.path.join(self.settings.data_docs_dir, "index.html")
