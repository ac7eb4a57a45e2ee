"""The HTTP API: FastAPI routes over the use cases in ``spinecare.service``, wired onto the
app by :func:`spinecare.app.create_app`."""
