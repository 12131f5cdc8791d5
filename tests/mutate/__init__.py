"""`make mutate` support: the pytest plugin that scopes mutmut's test runs, the report, their checks."""
