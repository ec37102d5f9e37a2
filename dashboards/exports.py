"""Download files of the dashboard (CSV and Excel), safe to open in a spreadsheet.

Any text cell that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return) gets a
leading apostrophe, so a customer name like '=HYPERLINK(...)' stays text. Pure functions: frame in, bytes out.
"""

from __future__ import annotations

import io

import pandas as pd

# One definition of "spreadsheet-safe" for every export (CLI files and dashboard downloads).
from models_ml.worklist.exports import FORMULA_STARTS, neutralise, safe_frame  # noqa: E402,F401


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """RFC 4180 CSV in UTF-8 (with BOM, so Excel reads accents right) of the neutralised frame. Rows end in CRLF,
    which also makes the writer quote any cell holding a bare carriage return (with a '\\n' line end it would not,
    and the cell would split the row in a spreadsheet)."""
    return safe_frame(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_excel_bytes(frame: pd.DataFrame, sheet_name: str = "Worklist") -> bytes:
    """An .xlsx workbook (openpyxl) of the neutralised frame: header frozen, columns sized to their content."""
    safe = safe_frame(frame)
    for column in safe.columns:  # Excel has no time zones
        if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
            safe[column] = safe[column].dt.tz_localize(None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe.to_excel(writer, sheet_name=sheet_name, index=False)
        sheet = writer.sheets[sheet_name]
        sheet.freeze_panes = "A2"
        for i, column in enumerate(safe.columns, start=1):
            cells = [len(str(v)) for v in safe[column].head(200)]
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = min(60, max([len(str(column)), *cells]) + 2)
        for row in sheet.iter_rows(min_row=2):
            for cell in row:  # openpyxl treats any string starting with '=' as a formula: force text
                if isinstance(cell.value, str):
                    cell.data_type = "s"
    return buffer.getvalue()
