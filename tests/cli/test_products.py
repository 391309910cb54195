"""`ordertools products import|list|set` as people and scripts drive them (the contract in
ARCHITECTURE.md), on SQLite and PostgreSQL.

Through click's CliRunner with `--db`, and once as the installed entry point in a process of its
own. A failure is one line on stderr per problem, each starting "Error:", a non-zero exit, no
traceback, and nothing stored.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result
from fixtures_sync import MUG, TEA, Shop, imported

from ordertools.cli import main

ORDERTOOLS = Path(sys.executable).with_name("ordertools")
CONTRACT_KEYS = {"sku", "name", "on_hand", "reserved", "available", "manage_stock", "placeholder"}
HEADER = "sku,name,quantity,manage_stock"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    """No test reads the developer's order book."""
    for name in ("ORDERTOOLS_DB", "ORDERTOOLS_DEBUG"):
        monkeypatch.delenv(name, raising=False)


def cli(url: str, *args) -> Result:
    result = CliRunner().invoke(main, ["--db", url, *map(str, args)], catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def ok(url: str, *args) -> str:
    result = cli(url, *args)
    assert result.exit_code == 0, result.output
    return result.stdout


def errors(url: str, *args) -> list[str]:
    """Run a command that must fail; its error lines."""
    result = cli(url, *args)
    assert result.exit_code != 0, result.output
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("Error: ") for line in lines), result.stderr
    return lines


def listed(url: str, *args) -> dict[str, dict]:
    rows = json.loads(ok(url, "products", "list", "--format", "json", *args))
    return {row["sku"]: row for row in rows}


def write_csv(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def book_url(shop: Shop) -> str:
    return shop.engine.url.render_as_string(hide_password=False)


def test_import_csv_then_list_json_per_the_contract(db_url, tmp_path):
    path = write_csv(tmp_path / "c.csv", "MUG-1,Mug,5,", "TEA-1,Tea,0,yes", "BOWL-1,Bowl,,no")
    assert ok(db_url, "products", "import", path) == "Imported 3 products: 3 added, 0 updated\n"
    rows = json.loads(ok(db_url, "products", "list", "--format", "json"))
    assert [row["sku"] for row in rows] == ["BOWL-1", "MUG-1", "TEA-1"]  # by SKU
    assert all(CONTRACT_KEYS <= set(row) for row in rows)
    assert rows[1] == {
        "sku": "MUG-1",
        "name": "Mug",
        "on_hand": 5,
        "reserved": 0,
        "available": 5,
        "oversold": 0,
        "manage_stock": True,
        "placeholder": False,
    }
    assert (rows[0]["on_hand"], rows[0]["available"], rows[0]["manage_stock"]) == (
        None,
        None,
        False,
    )

    again = write_csv(tmp_path / "d.csv", "MUG-1,,7,", "CUP-1,Cup,2,")
    assert ok(db_url, "products", "import", again) == "Imported 2 products: 1 added, 1 updated\n"
    assert (listed(db_url)["MUG-1"]["name"], listed(db_url)["MUG-1"]["on_hand"]) == ("Mug", 7)


def test_import_xlsx(db_url, tmp_path):
    book = openpyxl.Workbook()
    for row in (["SKU", "Name", "Quantity", "Manage_Stock"], ["MUG-1", "Mug", 4, "no"]):
        book.active.append(row)
    book.save(tmp_path / "c.xlsx")
    assert "1 added" in ok(db_url, "products", "import", tmp_path / "c.xlsx")
    assert listed(db_url)["MUG-1"]["manage_stock"] is False


def test_a_bad_file_says_every_bad_row_and_stores_nothing(db_url, tmp_path):
    ok(db_url, "products", "import", write_csv(tmp_path / "a.csv", "MUG-1,Mug,5,"))
    before = ok(db_url, "products", "list", "--format", "json")
    bad = write_csv(
        tmp_path / "bad.csv",
        "MUG-1,Mug,50,",
        "TEA-1,Tea,lots,",
        "BOWL-1,Bowl,1,",
        "CUP-1,Cup,1,perhaps",
        "JUG-1,Jug,2,",
    )
    assert errors(db_url, "products", "import", bad) == [
        "Error: row 3: quantity 'lots' is not a whole number ≥ 0",
        "Error: row 5: manage_stock 'perhaps' is not yes, no, true, false, 1 or 0",
        "Error: nothing imported from bad.csv: 2 bad rows of 5; fix them and import again",
    ]
    assert ok(db_url, "products", "list", "--format", "json") == before


def test_a_file_with_many_bad_rows_is_shown_in_part(sqlite_url, tmp_path):
    bad = write_csv(tmp_path / "bad.csv", *(f"SKU-{i},x,-1," for i in range(150)))
    lines = errors(sqlite_url, "products", "import", bad)
    assert len(lines) == 102
    assert lines[-2] == "Error: ... and 50 more bad rows"
    assert lines[-1].startswith("Error: nothing imported from bad.csv: 150 bad rows of 150")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["products", "import", "/nowhere/c.csv"], "does not exist"),
        (["products", "set", "NOPE", "--quantity", "1"], "no product with SKU 'NOPE'"),
        (["products", "set", "NOPE"], "nothing to set for NOPE"),
        (["products", "set", "NOPE", "--quantity", "-1"], "--quantity"),
        (["products", "set", "NOPE", "--manage-stock", "maybe"], "--manage-stock"),
        (["products", "list", "--format", "xml"], "--format"),
    ],
)
def test_errors_are_one_line(sqlite_url, args, says):
    [line] = errors(sqlite_url, *args)
    assert says in line


def test_a_file_that_is_no_catalog_is_one_line(sqlite_url, tmp_path):
    (tmp_path / "c.csv").write_text("name,quantity\nMug,1\n")
    [line] = errors(sqlite_url, "products", "import", tmp_path / "c.csv")
    assert line.startswith("Error: c.csv has no sku column")


def test_list_low_csv_and_set(db_url, tmp_path):
    path = write_csv(tmp_path / "c.csv", "A,a,9,", "B,b,2,", "C,c,0,", "D,d,,no", "E,e,5,")
    ok(db_url, "products", "import", path)
    assert list(listed(db_url, "--low", "5")) == ["C", "B", "E"]  # least available first
    assert list(listed(db_url, "--low", "5", "--limit", "1")) == ["C"]
    assert listed(db_url, "--low", "-1") == {}
    assert "No managed product has -1 or fewer available." in ok(
        db_url, "products", "list", "--low", "-1"
    )
    rows = list(csv.DictReader(io.StringIO(ok(db_url, "products", "list", "--format", "csv"))))
    assert rows[3] == {
        "sku": "D",
        "name": "d",
        "on_hand": "",
        "reserved": "0",
        "available": "",
        "oversold": "0",
        "manage_stock": "no",
        "placeholder": "no",
    }

    assert ok(db_url, "products", "set", "D", "--manage-stock", "yes") == (
        "D: on hand 0, reserved 0, available 0\n"
    )
    assert ok(db_url, "products", "set", "A", "--quantity", "1") == (
        "A: on hand 1, reserved 0, available 1\n"
    )
    assert ok(db_url, "products", "set", "A", "--manage-stock", "no") == "A: stock not managed\n"
    assert list(listed(db_url, "--low", "5")) == ["C", "D", "B", "E"]


def test_an_empty_catalog(sqlite_url):
    assert "No products yet" in ok(sqlite_url, "products", "list")
    assert ok(sqlite_url, "products", "list", "--format", "json") == "[]\n"


def test_a_placeholder_is_marked_until_an_import_sets_it_up(db_url, shop: Shop, tmp_path):
    url = book_url(shop)
    shop.add_product(TEA, quantity=1)
    order = imported(shop, mugs=2, teas=3)  # no MUG in the catalog: a placeholder; TEA oversold
    before = shop.product(MUG)
    found = listed(url)
    assert found[MUG]["placeholder"] is True and found[MUG]["manage_stock"] is False
    assert (found[TEA]["reserved"], found[TEA]["available"], found[TEA]["oversold"]) == (3, -2, 2)

    table = ok(url, "products", "list").splitlines()
    head = table[0]
    assert head.split() == ["SKU", "Name", "On", "hand", "Reserved", "Available", "Oversold"]
    [mug] = [line for line in table if line.startswith(MUG)]
    assert f"placeholder: set it up with `ordertools products set {MUG}" in mug
    [tea] = [line for line in table if line.startswith(TEA)]
    assert "oversold by 2" in tea
    # Numbers right-aligned under their headings: each ends where its heading ends.
    for heading, value in (("Reserved", "3"), ("Available", "-2"), ("Oversold", "2")):
        end = head.index(heading) + len(heading)
        assert tea[end - len(value) : end] == value, (heading, tea)

    path = write_csv(tmp_path / "c.csv", f"{MUG},Ceramic mug,10,", f"{TEA},,6,")
    assert ok(url, "products", "import", path) == (
        "Imported 2 products: 0 added, 2 updated (1 placeholder set up)\n"
    )
    found = listed(url)
    assert found[MUG] == {
        "sku": MUG,
        "name": "Ceramic mug",
        "on_hand": 10,
        "reserved": 2,  # the open FBM order holds it now
        "available": 8,
        "oversold": 0,
        "manage_stock": True,
        "placeholder": False,
    }
    assert (found[TEA]["available"], found[TEA]["oversold"]) == (3, 0)
    assert shop.product(MUG).id == before.id
    [mug_line] = [item for item in shop.local(order).items if item.sku == MUG]
    assert mug_line.product_id == before.id  # the order's line joined the product
    assert "placeholder" not in ok(url, "products", "list")


def test_the_installed_command_imports_and_lists(tmp_path):
    url = f"sqlite:///{tmp_path / 'book.db'}"
    path = write_csv(tmp_path / "c.csv", "MUG-1,Mug,5,", "TEA-1,Tea,x,")

    def run(*args) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(ORDERTOOLS), *map(str, args)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin", "ORDERTOOLS_DB": url},
        )
        assert "Traceback" not in done.stdout + done.stderr
        return done

    refused = run("products", "import", path)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        "Error: row 3: quantity 'x' is not a whole number ≥ 0",
        "Error: nothing imported from c.csv: 1 bad row of 2; fix it and import again",
    ]
    path = write_csv(tmp_path / "c.csv", "MUG-1,Mug,5,", "TEA-1,Tea,1,")
    done = run("products", "import", path)
    assert (done.returncode, done.stdout) == (0, "Imported 2 products: 2 added, 0 updated\n")
    done = run("products", "list", "--low", "1", "--format", "json")
    assert [row["sku"] for row in json.loads(done.stdout)] == ["TEA-1"]
