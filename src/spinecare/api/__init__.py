"""The HTTP service: FastAPI routes over the engine, the plan and the store."""
