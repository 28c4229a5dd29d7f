"""Attribution methods with one interface: ``out, mask = METHODS[name](model)(x)``.

VisualBackProp needs no gradients; the others (vanilla gradient, and Grad-CAM and LRP via
Captum) are the baselines the paper compares it with. Captum is optional: without it only
'vbp' and 'gradient' are listed.
"""
from vbp_ros.core.methods import gradient, vbp  # noqa: F401  (registers them)
from vbp_ros.core.methods.base import AttributionMethod, METHODS, normalise_per_image

try:
    from vbp_ros.core.methods import gradcam, lrp  # noqa: F401
except ImportError:  # captum not installed
    pass

__all__ = ['AttributionMethod', 'METHODS', 'normalise_per_image']
