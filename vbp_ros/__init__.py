"""vbp_ros: steering CNN + VisualBackProp masks, as a ROS 2 node and a ROS-free library."""
from vbp_ros.core.model_file import load_model, ModelSpec, save_model
from vbp_ros.core.pilotnet import PilotNet
from vbp_ros.core.visualbackprop import VisualBackProp
from vbp_ros.errors import InputError, ModelError, VbpError

__all__ = ['InputError', 'load_model', 'ModelError', 'ModelSpec', 'PilotNet', 'save_model',
           'VbpError', 'VisualBackProp']
