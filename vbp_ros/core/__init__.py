"""ROS-free core: the steering network, VisualBackProp and the methods it is compared with."""
