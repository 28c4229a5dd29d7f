"""H.264 MP4 writing through PyAV (FFmpeg's libx264), frame by frame from BGR arrays."""
from __future__ import annotations

from fractions import Fraction
import logging
import os
from pathlib import Path
from typing import Any, Literal, TYPE_CHECKING

from vbp_ros.bag.errors import BagError

if TYPE_CHECKING:
    from types import TracebackType

    import numpy as np

LOG = logging.getLogger(__name__)


class Mp4Writer:
    """Write BGR uint8 frames of one size to an H.264 MP4 file.

    The file is written under a temporary name and renamed on :meth:`close`, so a video that is
    there is complete.

    Args:
        path: the .mp4 to create.
        width, height: frame size (rounded down to even numbers, as yuv420p needs).
        fps: frame rate.
        crf: libx264 quality (lower is better; 23 is its default).
        preset: libx264 speed preset.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 30.0, *,
                 crf: int = 23, preset: str = 'veryfast') -> None:
        """Open the encoder.

        Raises:
            BagError: PyAV or the H.264 encoder is missing, or the file cannot be created.
            ValueError: bad size or rate.
        """
        if width < 16 or height < 16:
            raise ValueError(f'video size {width}x{height} is too small')
        if not 0 < fps <= 1000:
            raise ValueError(f'fps {fps} must be in (0, 1000]')
        self.path = Path(path)
        self.width, self.height = width - width % 2, height - height % 2
        self.frames = 0
        self._tmp = self.path.with_name(f'.{self.path.name}.partial-{os.getpid()}.mp4')
        try:
            import av
        except ImportError:
            raise BagError('writing MP4 needs PyAV: pip install av') from None
        self._av: Any = av
        self._container: Any = None
        try:
            self._container = av.open(str(self._tmp), mode='w')
            codec = 'libx264' if 'libx264' in av.codecs_available else 'h264'
            rate = Fraction(fps).limit_denominator(1001)
            stream: Any = self._container.add_stream(codec, rate=rate)
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise BagError(f'cannot create video {self.path}: {exc}') from None
        stream.width, stream.height = self.width, self.height
        stream.pix_fmt = 'yuv420p'
        stream.options = {'crf': str(int(crf)), 'preset': preset}
        self._stream = stream

    def write(self, bgr: np.ndarray) -> None:
        """Append one frame (cropped to the even size if needed).

        Raises:
            ValueError: the frame is not HxWx3 uint8 of the video's size.
        """
        if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype.name != 'uint8':
            raise ValueError(f'expected an HxWx3 uint8 BGR frame, got {bgr.shape} {bgr.dtype}')
        if bgr.shape[0] < self.height or bgr.shape[1] < self.width:
            msg = f'frame {bgr.shape[1]}x{bgr.shape[0]} is smaller than the video ' \
                  f'{self.width}x{self.height}'
            raise ValueError(msg)
        frame = self._av.VideoFrame.from_ndarray(bgr[:self.height, :self.width], format='bgr24')
        frame.pts = self.frames
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        """Flush the encoder and move the file to its name; returns the path."""
        if self._container is None:
            return self.path
        container, self._container = self._container, None
        for packet in self._stream.encode():
            container.mux(packet)
        container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            finally:
                self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        """Return the writer (it is already open)."""
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> Literal[False]:
        """Close, or abort after an exception (which propagates)."""
        if exc_type is None:
            self.close()
        else:
            self.abort()
        return False
