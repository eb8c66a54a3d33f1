"""Reads report.xlsx with openpyxl and compares it, cell by cell, with the CSV reports of the same
run directory. Prints a JSON line of counts; exits non-zero with the differences.

CSV: psql's convention, an unquoted empty field is NULL and a quoted "" an empty string. Workbook:
a NULL is an empty cell shaded grey, an empty string an empty cell without shading; booleans are
boolean cells; every other field is a string cell holding the same text (OOXML escapes such as
_x000D_ decoded, as Excel reads them)."""

import json
import re
import sys
from pathlib import Path

import openpyxl

run = Path(sys.argv[1])
BOOLEAN_COLUMNS = {"is_immutable", "is_published"}
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
errors = []


def parse_csv(text):
    """RFC 4180 records; each field (text, quoted)."""
    records, record, i = [], [], 0
    while i < len(text):
        if text[i] == '"':
            j, value = i + 1, []
            while True:
                k = text.index('"', j)
                value.append(text[j:k])
                if text[k + 1:k + 2] == '"':
                    value.append('"')
                    j = k + 2
                else:
                    break
            record.append(("".join(value), True))
            i = k + 1
        else:
            j = i
            while j < len(text) and text[j] != "," and text[j:j + 2] != "\r\n":
                j += 1
            record.append((text[i:j], False))
            i = j
        if text[i:i + 2] == "\r\n":
            records.append(record)
            record, i = [], i + 2
        elif text[i:i + 1] == ",":
            i += 1
        else:
            errors.append(f"CSV parse stopped at {i}")
            break
    return records


def ooxml_text(value):
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def shaded(cell):
    return (cell.fill.fgColor.rgb or "").upper().endswith("D9D9D9") and cell.fill.fill_type == "solid"


book = openpyxl.load_workbook(run / "report.xlsx")
reports = ["versions_kept", "versions_deleted", "services_affected", "cascade", "policy_divergence", "hazards"]
if book.sheetnames != ["summary"] + reports:
    errors.append(f"sheets {book.sheetnames}")
rows_compared = cells_compared = formula_strings = nulls = empty_strings = booleans = 0
for name in reports:
    records = parse_csv((run / "reports" / f"{name}.csv").read_bytes().decode("utf-8"))
    sheet = book[name]
    cells = list(sheet.iter_rows())
    header = [text for text, _ in records[0]]
    if [c.value for c in cells[0]] != header:
        errors.append(f"{name}: header {[c.value for c in cells[0]]} != {header}")
    if len(cells) != len(records):
        errors.append(f"{name}: {len(cells) - 1} rows in the sheet, {len(records) - 1} in the CSV file")
    if sheet.freeze_panes != "A2":
        errors.append(f"{name}: frozen at {sheet.freeze_panes}")
    last = openpyxl.utils.get_column_letter(len(header))
    if sheet.auto_filter.ref != f"A1:{last}{len(records)}":
        errors.append(f"{name}: autofilter {sheet.auto_filter.ref}")
    for column in range(1, len(header) + 1):
        width = sheet.column_dimensions[openpyxl.utils.get_column_letter(column)].width
        if not 8 <= width <= 61:
            errors.append(f"{name}: column {column} width {width}")
    for number, (record, row) in enumerate(zip(records[1:], cells[1:]), start=1):
        rows_compared += 1
        if len(row) != len(record):
            errors.append(f"{name} row {number}: {len(row)} cells, {len(record)} fields")
            continue
        for column, ((text, quoted), cell) in enumerate(zip(record, row)):
            cells_compared += 1
            where = f"{name} row {number} column {header[column]}"
            if text == "" and not quoted:
                nulls += 1
                if cell.value is not None or not shaded(cell):
                    errors.append(f"{where}: NULL shown as {cell.value!r} (shaded {shaded(cell)})")
            elif text == "":
                empty_strings += 1
                if cell.value is not None or shaded(cell):
                    errors.append(f"{where}: empty string shown as {cell.value!r} (shaded {shaded(cell)})")
            elif header[column] in BOOLEAN_COLUMNS:
                booleans += 1
                if cell.data_type != "b" or cell.value != (text == "true"):
                    errors.append(f"{where}: {text} shown as {cell.value!r} ({cell.data_type})")
            else:
                formula_strings += text.startswith(FORMULA_STARTS)
                if cell.data_type != "s" or ooxml_text(cell.value) != text:
                    errors.append(f"{where}: {text!r} shown as {cell.value!r} ({cell.data_type})")

summary = json.loads((run / "summary.json").read_text())
first = book["summary"]
hazards = {}
for row in first.iter_rows():
    if isinstance(row[0].value, str) and re.fullmatch(r"H\d+", row[0].value):
        if row[3].data_type != "n":
            errors.append(f"summary: count of {row[0].value} is not a number")
        hazards[row[0].value] = row[3].value
if hazards != summary["hazards"]:
    errors.append(f"summary sheet hazards {hazards} != summary.json {summary['hazards']}")
if first["B3"].value is not (summary["predicted_failure"] is not None):
    errors.append(f"summary sheet predicted failure {first['B3'].value!r}")
labelled = {row[0].value: row for row in first.iter_rows() if isinstance(row[0].value, str)}
for label, key in [("collation", "collation"), ("collation from", "collation_source")]:
    shown = labelled[label][1].value if label in labelled else None
    if shown != summary[key]:
        errors.append(f"summary sheet {label} {shown!r} != summary.json {summary[key]!r}")
for table, rows in summary["cascade_by_parent"].items():
    row = labelled.get(f"{table} with its partitions / children, in all")
    if row is None or row[3].value != rows:
        errors.append(f"summary sheet total of {table} with its descendants: {row and row[3].value!r} != {rows}")
if len(first._charts) != 2:
    errors.append(f"{len(first._charts)} charts on the summary sheet")
for sheet in book.worksheets:
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                errors.append(f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}")

print(json.dumps({"rows": rows_compared, "cells": cells_compared, "formula_strings": formula_strings,
                  "nulls": nulls, "empty_strings": empty_strings, "booleans": booleans,
                  "parents": len(summary["cascade_by_parent"])}))
if errors:
    sys.exit("\n".join(errors[:50]))
