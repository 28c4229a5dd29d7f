"""The package's root exception: every error vbp_ros raises on purpose derives from it."""


class VbpError(Exception):
    """Base class of all vbp_ros errors."""


class ModelError(VbpError):
    """A model cannot be loaded, or VisualBackProp cannot follow its structure."""


class InputError(VbpError, ValueError):
    """An input tensor or image has the wrong shape, type or content."""
