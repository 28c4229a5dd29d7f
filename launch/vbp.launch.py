"""Launch the VisualBackProp steering node with config/vbp.yaml.

Optional parts: ``rviz:=true`` opens rviz2 on camera, mask and overlay (best-effort
subscriptions, matching the node's sensor-data QoS); ``record:=true`` records camera,
steering, mask, overlay and diagnostics with ``ros2 bag record`` (MCAP; recording the overlay
makes the node compute it); ``demo:=true`` starts the
synthetic camera, so nothing else is needed.

Examples::

    ros2 launch vbp_ros vbp.launch.py demo:=true rviz:=true
    ros2 launch vbp_ros vbp.launch.py camera_topic:=/front/image_raw device:=cuda record:=true
    ros2 launch vbp_ros vbp.launch.py device:=cuda compile:=true
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.substitutions import FindPackageShare

BOOL = ['true', 'false']


def generate_launch_description() -> LaunchDescription:
    """Node, optional synthetic camera, rviz2 and bag recording."""
    share = FindPackageShare('vbp_ros')
    camera_topic = LaunchConfiguration('camera_topic')
    args = [
        DeclareLaunchArgument('camera_topic', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic the node subscribes to'),
        DeclareLaunchArgument('model_path', default_value='',
                              description='steering model (.safetensors); empty: bundled model'),
        DeclareLaunchArgument('device', default_value='auto', choices=['auto', 'cpu', 'cuda'],
                              description='torch device for the model'),
        DeclareLaunchArgument('compile', default_value='false', choices=BOOL,
                              description='torch.compile model + VisualBackProp at start-up'),
        DeclareLaunchArgument('reliability', default_value='best_effort',
                              choices=['best_effort', 'reliable'],
                              description='QoS reliability of camera, mask and overlay'),
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
    node = Node(
        package='vbp_ros', executable='vbp_node', name='vbp', output='screen',
        parameters=[
            LaunchConfiguration('params_file'),
            {'camera_topic': ParameterValue(camera_topic, value_type=str),
             'model_path': ParameterValue(LaunchConfiguration('model_path'), value_type=str),
             'device': ParameterValue(LaunchConfiguration('device'), value_type=str),
             'compile': ParameterValue(LaunchConfiguration('compile'), value_type=bool),
             'reliability': ParameterValue(LaunchConfiguration('reliability'), value_type=str)},
        ])
    camera = Node(
        package='vbp_ros', executable='synthetic_camera', name='synthetic_camera',
        output='screen', condition=IfCondition(LaunchConfiguration('demo')),
        arguments=['--topic', camera_topic, '--rate', '30', '--reliability',
                   LaunchConfiguration('reliability')])
    rviz = Node(
        package='rviz2', executable='rviz2', name='rviz2',
        arguments=['-d', PathJoinSubstitution([share, 'config', 'vbp.rviz'])],
        condition=IfCondition(LaunchConfiguration('rviz')))
    record = ExecuteProcess(
        cmd=['ros2', 'bag', 'record', '-s', 'mcap', camera_topic, '/vbp/steering', '/vbp/mask',
             '/vbp/overlay', '/diagnostics'],
        output='screen', condition=IfCondition(LaunchConfiguration('record')))
    return LaunchDescription([*args, node, camera, rviz, record])
