"""sensor_msgs Image and CompressedImage <-> numpy arrays, table-driven like cv_bridge."""
from __future__ import annotations

from vbp_ros.encodings.compressed import decode_compressed, decode_compressed_native, \
    encode_compressed, peek_size
from vbp_ros.encodings.errors import EncodingError
from vbp_ros.encodings.image import decode_image, decode_image_native, encode_image, pixels
from vbp_ros.encodings.limits import MAX_BYTES, MAX_SIDE
from vbp_ros.encodings.table import Encoding, ENCODINGS, lookup

__all__ = ['decode_compressed', 'decode_compressed_native', 'decode_image',
           'decode_image_native', 'encode_compressed', 'encode_image',
           'Encoding', 'EncodingError', 'ENCODINGS', 'lookup', 'MAX_BYTES', 'MAX_SIDE',
           'peek_size', 'pixels']
