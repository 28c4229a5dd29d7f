"""vbp_ros: one ament_python package that also installs with plain pip (no ROS needed)."""
from glob import glob

from setuptools import find_packages, setup

package_name = 'vbp_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={package_name: ['py.typed', 'models/*.safetensors', 'models/*.json']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml') + glob('config/*.rviz')),
    ],
    python_requires='>=3.10',
    # torch is deliberately unpinned: GPU users keep their CUDA build. Pin it in the same pip
    # command (e.g. torch==2.13.0) to get a CPU build; see the README.
    install_requires=[
        'setuptools',
        'numpy>=1.21',
        'numba>=0.56',
        'torch>=1.13',
        'safetensors>=0.3',
        'opencv-python-headless>=4.5',
        'pyyaml>=5.4',
        'tqdm>=4.60',
        'rosbags>=0.11.1',
    ],
    extras_require={
        'dds': ['cyclonedds>=0.10.5'],
        'eval': ['captum>=0.7', 'matplotlib>=3.5'],
        'video': ['av>=11'],
        'train': ['tensorboard>=2.10'],
        'test': ['pytest>=7', 'psutil>=5.9'],
    },
    zip_safe=True,
    maintainer='vbp_ros maintainers',
    maintainer_email='maintainers@vbp-ros.dev',
    description='Steering CNN with real-time VisualBackProp masks for ROS 2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'vbp-ros = vbp_ros.cli:main',
            'vbp_node = vbp_ros.node.main:main',
            'synthetic_camera = vbp_ros.cli:camera_main',
        ],
    },
)
