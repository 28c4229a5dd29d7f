"""Attribution methods with one interface: ``out, mask = METHODS[name](model)(x)``.

VisualBackProp needs no gradients; the others (vanilla gradient, and Grad-CAM and LRP via
Captum) are the baselines the paper compares it with. Captum is optional: without it only
'vbp' and 'gradient' are listed.
"""
from __future__ import annotations

from vbp_ros.core.methods import gradient, vbp  # noqa: F401  (registers them)
from vbp_ros.core.methods.base import AttributionMethod, METHODS, normalise_per_image

#: Why Grad-CAM and LRP are not in METHODS (e.g. "No module named 'captum'"), or None.
CAPTUM_MISSING: str | None = None
try:
    from vbp_ros.core.methods import gradcam, lrp  # noqa: F401
except ImportError as exc:  # captum, or one of the modules it imports, is not installed
    CAPTUM_MISSING = str(exc)

__all__ = ['AttributionMethod', 'CAPTUM_MISSING', 'METHODS', 'normalise_per_image']
