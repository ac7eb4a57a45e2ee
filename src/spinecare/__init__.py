"""spinecare: assessment, measurement and care planning for spinal stenosis."""

__version__ = "0.1.0"
