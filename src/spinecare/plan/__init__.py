"""Care plans and home exercise programmes.

``spinecare.plan.knowledge`` loads the treatment knowledge base and the exercise library (versioned
TOML data in ``spinecare/knowledge/``). The plan generator is built on top of those.
"""
