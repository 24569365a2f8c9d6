"""AWS Lambda handlers: ``api`` (the web app via Mangum), ``worker`` (report runs), ``sns`` (SES feedback).

Each handler builds its state once per Lambda instance from ``EXECINTEL_*`` environment variables
(docs/aws-runtime.md lists them): ``api`` at import, ``worker`` and ``sns`` on their first invocation.
``api`` and ``sns`` never import the analysis or rendering stack.
"""
