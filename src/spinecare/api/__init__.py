"""The HTTP API: FastAPI routes over the use cases in ``spinecare.service``, wired onto the
app by :func:`spinecare.app.create_app`. Kept free of imports so that the command line can
load ``spinecare.api.commands`` cheaply."""
