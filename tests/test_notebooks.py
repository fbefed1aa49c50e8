"""The notebooks: stored without outputs, and executed headless (nbclient, a fresh ipykernel per notebook)
against the Olist lakehouse (small - 8,000 orders - but two years long, so that default labels exist;
built once per run and shared with test_real_data), with no error and with their charts rendered."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# notebook -> the charts (image/png outputs) it must render on that lakehouse, and whether it
# reads the persistent catalog (a Hive metastore in the lakehouse: the kernel's Spark opens it)
EXPECTED = {
    "supply_chain_performance.ipynb": (5, True),
    "credit_risk.ipynb": (4, False),
    "explore_lakehouse.ipynb": (1, False),
}


def test_every_notebook_is_tested():
    assert {p.name for p in NOTEBOOKS.glob("*.ipynb")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"


@pytest.fixture(scope="module")
def lake(olist_lake):
    return olist_lake


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs_and_draws(lake, name, monkeypatch):
    from nbclient import NotebookClient

    charts, persistent = EXPECTED[name]
    # The kernel inherits this environment: the test settings, pointed at the small lakehouse, with a
    # small Spark (local[2], no UI, loopback) - see conf/test.yaml.
    for key, value in {"TRADELAKE_ENV": "test", "TRADELAKE__PATHS__LAKEHOUSE": lake.lakehouse_root,
                       "TRADELAKE__PATHS__LANDING": lake.landing_root, "SPARK_LOCAL_IP": "127.0.0.1",
                       "TRADELAKE__CATALOG__IMPLEMENTATION": "hive" if persistent else "in-memory"}.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if o.output_type in ("display_data", "execute_result") and "image/png" in o.get("data", {})]
    assert len(images) >= charts, f"{name}: {len(images)} charts rendered, expected {charts}"
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert lake.lakehouse_root in text  # it read the lakehouse it was pointed at
