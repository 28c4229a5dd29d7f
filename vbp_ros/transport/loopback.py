"""A Cyclone DDS configuration bound to the loopback interface, for demos and tests.

Multicast off, unicast discovery to 127.0.0.1, 64 KB fragments and a 4 MB socket receive buffer
(without it, best-effort 1080p frames at 30 Hz are mostly lost). ROS 2 nodes on the same machine
see this one when they use the same configuration (``CYCLONEDDS_URI``) and ``ROS_DOMAIN_ID``; a
Fast DDS node also needs ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``.
"""
from __future__ import annotations

import os

LOOPBACK_XML = """<?xml version="1.0" encoding="UTF-8"?>
<CycloneDDS xmlns="https://cdds.io/config">
  <Domain Id="any">
    <General>
      <Interfaces><NetworkInterface name="lo" multicast="false"/></Interfaces>
      <AllowMulticast>false</AllowMulticast>
      <MaxMessageSize>65500B</MaxMessageSize>
      <FragmentSize>65000B</FragmentSize>
    </General>
    <Discovery>
      <ParticipantIndex>auto</ParticipantIndex>
      <MaxAutoParticipantIndex>64</MaxAutoParticipantIndex>
      <Peers><Peer address="127.0.0.1"/></Peers>
    </Discovery>
    <Internal><SocketReceiveBufferSize min="4MB"/></Internal>
  </Domain>
</CycloneDDS>
"""


def use_loopback(force: bool = False) -> bool:
    """Point Cyclone DDS at the loopback configuration unless ``CYCLONEDDS_URI`` is set.

    Must run before the first participant of a domain is created.

    Args:
        force: replace an existing ``CYCLONEDDS_URI``.

    Returns:
        True when the loopback configuration is now in effect.
    """
    if os.environ.get('CYCLONEDDS_URI') and not force:
        return False
    os.environ['CYCLONEDDS_URI'] = LOOPBACK_XML
    return True
