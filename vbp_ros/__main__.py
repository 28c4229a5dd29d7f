"""`python -m vbp_ros` is `vbp-ros`."""
import sys

from vbp_ros.cli import main

sys.exit(main())
