"""The example notebook runs end to end, in a kernel running this interpreter (the venv's)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import ipykernel  # noqa: F401  (the dev extra: missing, the test fails rather than skips)
import nbclient
import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "portfolio_walkthrough.ipynb"
KERNEL = "allocator-test"
#: bounds a hung cell or kernel (a hang guard, not a timing claim: no wall-clock assert here)
CELL_TIMEOUT = 120


def test_notebook_is_committed_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def _kernel_manager(tmp_path: Path) -> KernelManager:
    """A kernel spec private to this test whose argv is this very interpreter, so the kernel
    sees the venv's packages whatever kernels the machine has registered."""
    spec_dir = tmp_path / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "allocator test kernel",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec), encoding="utf-8")
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name=KERNEL, kernel_spec_manager=ksm)


def test_notebook_runs(tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    km = _kernel_manager(tmp_path)
    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(tmp_path)}},  # the notebook writes files here
    )
    client.execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(
        o.get("text", "") if o.output_type == "stream" else json.dumps(o.get("data", {}))
        for o in outputs
    )
    # the kernel ran this interpreter's allocator, and the story's key results appeared
    assert "tasks row 4 (id crm-etl), column min_level: must be 1..5, got 7" in text
    assert "unknown predecessor 'crm-tst'" in text and "unknown person 'zoe'" in text
    assert "people row chen (id chen), column hours_per_day: must be in (0, 24], got 30" in text
    assert "allocator-solution" in text  # a Solution rendered as HTML
    assert "application/vnd.plotly.v1+json" in text  # figures displayed
    assert "crm due 5 Feb" in text and "+ gus" in text  # the what-if comparison
    # the objective in planner units (the Solution page, the terms table), no combined number
    assert "undelivered 0 h" in text and "charged cost " in text
    assert "undelivered work (priority-weighted hours)" in text and "weighted_late_days" in text
    # "Questions a PMO asks": drivers, risk (frames and plot), scenarios, recommendations
    assert "project crm finishes" in text and "waits for" in text and "criticality" in text
    assert "schedule risk per project (500 runs)" in text and "crm due 26 Feb" in text
    assert "move_deadline" in text or "raise_priority" in text
    tables = "\n".join(
        o["data"].get("text/html", "") + o["data"].get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code" and "plot" not in c.source
        for o in c.outputs
        if o.output_type in ("execute_result", "display_data")
    )
    assert tables and not re.search(r"\d{16,}", tables.replace(",", ""))
    written = tmp_path / "walkthrough-output"
    assert (written / "gantt.html").stat().st_size > 1_000_000
    assert (written / "gantt.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (written / "csv" / "tasks.csv").is_file()
