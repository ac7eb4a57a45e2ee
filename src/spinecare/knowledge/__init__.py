"""Versioned clinical knowledge: data files only. See ``spinecare.reasoning.knowledge``."""
