"""`vbp-ros bench`: see :mod:`vbp_ros.bench`."""
from vbp_ros.bench import add_arguments, run_args as run

__all__ = ['add_arguments', 'run']
