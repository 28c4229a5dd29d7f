"""Launch the VisualBackProp steering node with config/vbp.yaml.

Optional parts: ``rviz:=true`` opens rviz2 on camera, mask and overlay (best-effort
subscriptions, matching the node's sensor-data QoS); ``record:=true`` records camera,
steering, mask, overlay and diagnostics with ``ros2 bag record`` (MCAP; recording the overlay
makes the node compute it); ``demo:=true`` starts the synthetic camera, so nothing else is
needed.

The node arguments (camera_topic, model_path, model_class, device, compile, reliability)
override the parameter file only when given: left empty, the file's values apply
(``params_file:=...``).

Examples::

    ros2 launch vbp_ros vbp.launch.py demo:=true rviz:=true
    ros2 launch vbp_ros vbp.launch.py camera_topic:=/front/image_raw device:=cuda record:=true
    ros2 launch vbp_ros vbp.launch.py params_file:=/path/to/my_vbp.yaml
"""
import tempfile
from pathlib import Path

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, OpaqueFunction
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from vbp_ros.node.launch_args import camera_arguments, effective, NODE_ARGUMENTS, \
    node_overrides, recorded_topics, rviz_layout

BOOL = ['true', 'false']
FROM_FILE = ' (empty: as in params_file)'


def _launch(context):
    """Node, camera, rviz2 and recorder, with the values the node will actually run with."""
    share = Path(FindPackageShare('vbp_ros').perform(context))
    params_file = LaunchConfiguration('params_file').perform(context)
    overrides = node_overrides(
        {name: LaunchConfiguration(name).perform(context) for name in NODE_ARGUMENTS})
    values = effective(params_file, overrides)  # the file is read once
    camera_topic = values['camera_topic']
    # A namespace ('' = the launch's own) makes the name fully specified, so launch_ros files
    # the overrides under '/vbp', applied after every section of the user's file; without one
    # they would go under '/**', which a 'vbp:' section in that file would override.
    node = Node(package='vbp_ros', executable='vbp_node', name='vbp', namespace='',
                output='screen',
                parameters=[params_file, overrides] if overrides else [params_file])
    camera = Node(
        package='vbp_ros', executable='synthetic_camera', name='synthetic_camera',
        output='screen', condition=IfCondition(LaunchConfiguration('demo')),
        arguments=camera_arguments(values))
    layout = share / 'config' / 'vbp.rviz'
    text = layout.read_text()
    shown = rviz_layout(text, camera_topic)
    if shown != text:  # rviz on the camera topic in use
        with tempfile.NamedTemporaryFile('w', prefix='vbp_', suffix='.rviz', delete=False) as f:
            f.write(shown)
        layout = Path(f.name)
    rviz = Node(package='rviz2', executable='rviz2', name='rviz2',
                arguments=['-d', str(layout)],
                condition=IfCondition(LaunchConfiguration('rviz')))
    record = ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '-s', 'mcap', *recorded_topics(values)],
        output='screen', condition=IfCondition(LaunchConfiguration('record')))
    return [node, camera, rviz, record]


def generate_launch_description() -> LaunchDescription:
    """The arguments, then the node and its optional companions."""
    share = FindPackageShare('vbp_ros')
    args = [
        DeclareLaunchArgument('camera_topic', default_value='',
                              description='sensor_msgs/Image topic the node subscribes to'
                                          + FROM_FILE),
        DeclareLaunchArgument('model_path', default_value='',
                              description='steering model (.safetensors)' + FROM_FILE),
        DeclareLaunchArgument('model_class', default_value='',
                              description="your own network for model_path, as "
                                          "'package.module:Class'" + FROM_FILE),
        DeclareLaunchArgument('device', default_value='', choices=['', 'auto', 'cpu', 'cuda'],
                              description='torch device for the model' + FROM_FILE),
        DeclareLaunchArgument('compile', default_value='', choices=['', *BOOL],
                              description='torch.compile model + VisualBackProp at start-up'
                                          + FROM_FILE),
        DeclareLaunchArgument('reliability', default_value='',
                              choices=['', 'best_effort', 'reliable'],
                              description='QoS reliability of camera, mask and overlay'
                                          + FROM_FILE),
        DeclareLaunchArgument('params_file',
                              default_value=PathJoinSubstitution([share, 'config', 'vbp.yaml']),
                              description='ROS 2 parameter file of the node'),
        DeclareLaunchArgument('rviz', default_value='false', choices=BOOL,
                              description='start rviz2 showing camera, mask and overlay'),
        DeclareLaunchArgument('record', default_value='false', choices=BOOL,
                              description='ros2 bag record camera, steering, mask, overlay '
                                          'and diagnostics'),
        DeclareLaunchArgument('demo', default_value='false', choices=BOOL,
                              description='start the synthetic camera on camera_topic'),
    ]
    return LaunchDescription([*args, OpaqueFunction(function=_launch)])
