"""Downloads and export jobs: datasets and reports turned into files.

../shared/DESIGN.md "Exports" is the plan. The writers in
:mod:`markbook.exports.writers` are the shared last stage of every pipeline.
"""
