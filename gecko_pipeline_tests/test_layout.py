"""The layout's rules hold: the product wheel holds the product only, configuration is read in one
place, domain packages import nothing above them, and the sandboxes import nothing of the product."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ROOT / "gecko_pipeline"
DOMAINS = ("api", "warehouse", "channels", "orders", "webhooks", "stores")


def imports(path: Path) -> set[str]:
    """Every module a file imports (absolute names; relative ones are within its own package)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_product_wheel_holds_no_sandbox_and_no_test_code(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = tmp_path.glob("gecko_pipeline-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {
        "gecko_pipeline",
        wheel.name.split("-")[0] + "-" + wheel.name.split("-")[1] + ".dist-info",
    }
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "sandbox" in n.split("/")[1]], "sandbox code in the product wheel"
    assert "gecko_pipeline/orders/channel_order.schema.json" in names  # the published contract ships


def test_the_environment_is_read_in_the_configuration_module_only() -> None:
    readers = []
    for path in PRODUCT.rglob("*.py"):
        if path.name == "config.py" and path.parent == PRODUCT:
            continue
        text = path.read_text()
        if "os.environ" in text or "getenv" in text:
            readers.append(str(path.relative_to(ROOT)))
    assert readers == []


def test_domain_packages_import_neither_dagster_nor_the_layers_above() -> None:
    offenders = []
    for domain in DOMAINS:
        for path in (PRODUCT / domain).rglob("*.py"):
            for module in imports(path):
                if module.split(".")[0] == "dagster" or module.startswith(
                    ("gecko_pipeline.defs", "gecko_pipeline.tools", "gecko_pipeline.definitions")
                ):
                    offenders.append(f"{path.relative_to(ROOT)} imports {module}")
    assert offenders == []


def test_nothing_in_the_product_imports_a_sandbox_and_no_sandbox_imports_the_product() -> None:
    sandbox_packages = ("gecko_sandbox", "shopify_sandbox", "sandbox_kit")
    product = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in PRODUCT.rglob("*.py")
        if path.parent.name != "tools"  # the command line may offer to start a sandbox when installed
        for module in imports(path)
        if module.split(".")[0] in sandbox_packages
    ]
    sandboxes = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "sandboxes").rglob("*.py")
        for module in imports(path)
        if module.split(".")[0] == "gecko_pipeline"
    ]
    assert product == [] and sandboxes == []
