"""The HTTP side: the JSON API and the web console, one FastAPI application (`api.app`).

One folder per feature, each with the same shape: `routes.py` (the endpoints),
`schemas.py` (their request and response bodies) and, where the feature has data access
of its own, `queries.py` (plain functions taking a connection, whose SQL text is fixed:
what a request asks for only travels as a bound parameter). Cross-cutting modules stay
here: the application, problems, paging, encoding, admission, the OpenAPI document, and
the dependencies (`deps`) with their implementations.
"""
