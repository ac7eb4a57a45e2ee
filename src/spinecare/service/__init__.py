"""The use cases, one function each, behind both HTTP doors (``spinecare.api`` and
``spinecare.web``) and the command line. Each takes the database, the principal and the input,
writes its own audit event, and refuses with :mod:`spinecare.service.errors`, never with an
HTTP status: the doors decide how a refusal looks."""
