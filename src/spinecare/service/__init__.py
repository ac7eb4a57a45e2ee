"""Domain services behind the HTTP API: they join the engine, the plan and the store, so that
routes stay thin and the same operations serve the command line and the demo."""
