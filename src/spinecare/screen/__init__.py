"""Population screening: the assessment knowledge over whole tables of cases.

The criteria and the differential are compiled from the same trees the per-case engine uses
into columnar expressions (DuckDB SQL, PySpark Columns), checked against the per-case engine
(the ``python`` engine, the reference) on generated cases. See :mod:`spinecare.screen.columns`
(the input), :mod:`spinecare.screen.output` (the output) and :mod:`spinecare.screen.engines`.
"""
