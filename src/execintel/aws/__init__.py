"""AWS Lambda handlers: ``api`` (the web app via Mangum), ``worker`` (report runs), ``sns`` (SES feedback).

Each handler module builds its state once per Lambda instance, at import, from ``EXECINTEL_*`` environment
variables (docs/aws.md lists them). ``api`` and ``sns`` never import the analysis or rendering stack.
"""
