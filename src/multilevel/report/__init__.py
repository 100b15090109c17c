"""Reports people read: one self-contained HTML file, and APA tables to paste into papers."""

from multilevel.report.html import (
    comparison_report,
    figure_data_uri,
    fit_report,
    ladder_report,
    report_html,
    write_report,
)
from multilevel.report.tables import (
    ApaTable,
    data_summary_table,
    estimator_comparison_table,
    export_csv,
    fixed_effects_table,
    model_comparison_table,
    random_effects_table,
    tables_for,
)

__all__ = [
    "ApaTable",
    "comparison_report",
    "data_summary_table",
    "estimator_comparison_table",
    "export_csv",
    "figure_data_uri",
    "fit_report",
    "fixed_effects_table",
    "ladder_report",
    "model_comparison_table",
    "random_effects_table",
    "report_html",
    "tables_for",
    "write_report",
]
