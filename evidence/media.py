"""Pictures re-encoded without their metadata (EXIF with GPS, XMP, comments), thumbnails, and a
video's duration and first frame through ffprobe/ffmpeg when they are installed.

Re-encoding is how the metadata goes: Pillow writes only what it is given, so the clean copy is
given the pixels and nothing that could say where or with what a picture was taken.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

# A 50 MB file can decode to gigabytes of pixels: bigger pictures are refused, not decoded (Pillow
# raises DecompressionBombError past twice this, and storage.py refuses anything past it).
MAX_PIXELS = 40_000_000
MAX_FRAMES = 500
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
THUMBNAIL_SIZE = (320, 320)
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
# What a clean copy keeps: how the pixels look, nothing about where or how they were taken.
KEPT_INFO = ("transparency", "duration", "loop", "icc_profile", "background")
TOOL_SECONDS = 60


class MediaError(Exception):
    """The file is not a readable picture or video of its type."""


@dataclass(frozen=True)
class MediaInfo:
    width: Optional[int] = None
    height: Optional[int] = None
    duration: Optional[float] = None  # seconds, videos only


def _clean_copy(frame: Image.Image) -> Image.Image:
    copy = frame.copy()
    copy.info = {key: frame.info[key] for key in KEPT_INFO if key in frame.info}
    return copy


def sanitize_image(source: Path, content_type: str, target: Path) -> MediaInfo:
    """Writes `source` re-encoded in its own format to `target`, without metadata. The orientation
    EXIF tag is applied to the pixels first, so the picture still shows the right way up."""
    expected = PILLOW_FORMATS[content_type]
    try:
        with Image.open(source) as image:
            if image.format != expected:
                raise MediaError(f"{image.format} content declared as {expected}")
            if image.width * image.height > MAX_PIXELS:
                raise MediaError(f"{image.width}x{image.height} is over {MAX_PIXELS} pixels")
            frames = getattr(image, "n_frames", 1)
            if frames > MAX_FRAMES:
                raise MediaError(f"{frames} frames")
            if frames > 1:  # animated PNG or WebP: every frame, still without metadata
                copies: List[Image.Image] = []
                for frame in ImageSequence.Iterator(image):
                    frame.load()
                    copies.append(_clean_copy(frame))
                durations = [frame.info.get("duration", 100) for frame in copies]
                options: Dict = {"save_all": True, "append_images": copies[1:], "duration": durations}
                options["loop"] = image.info.get("loop", 0)
                clean = copies[0]
            else:
                image.load()  # decodes everything: a truncated or corrupt picture fails here
                clean = _clean_copy(ImageOps.exif_transpose(image) or image)
                options = {}
            if expected == "JPEG":
                options["quality"] = 95
                if clean.mode not in ("RGB", "L", "CMYK"):
                    clean = clean.convert("RGB")
            elif expected == "WEBP":
                if frames == 1:
                    options["lossless"] = True  # a re-encode must not blur what the picture proves
                else:
                    options["quality"] = 95
            for key in ("transparency", "icc_profile"):
                if key in clean.info:
                    options[key] = clean.info[key]
            clean.save(target, format=expected, **options)
            return MediaInfo(width=image.width, height=image.height)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
        raise MediaError(str(error)) from error


def image_thumbnail(source: Path, target: Path) -> None:
    """A small JPEG of the (already clean) picture, transparency flattened on white."""
    with Image.open(source) as image:
        image.seek(0)
        picture = image.convert("RGBA")
        picture.thumbnail(THUMBNAIL_SIZE)
        flat = Image.new("RGB", picture.size, (255, 255, 255))
        flat.paste(picture, mask=picture.getchannel("A"))
        flat.save(target, format="JPEG", quality=80)


def ffmpeg_available() -> bool:
    return bool(shutil.which("ffprobe") and shutil.which("ffmpeg"))


def probe_video(path: Path) -> Optional[MediaInfo]:
    """Duration and size of the first video stream; None without ffprobe. Raises MediaError when
    ffprobe cannot read a video stream from the file."""
    ffprobe = shutil.which("ffprobe")
    if not ffprobe:
        return None
    command = [
        ffprobe, "-v", "error", "-print_format", "json",
        "-show_entries", "format=duration:stream=codec_type,width,height,duration", str(path),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, timeout=TOOL_SECONDS, check=False)
        data = json.loads(result.stdout or b"{}")
    except (subprocess.TimeoutExpired, ValueError) as error:
        raise MediaError(f"ffprobe: {error}") from error
    video = next((s for s in data.get("streams", []) if s.get("codec_type") == "video"), None)
    if result.returncode != 0 or video is None:
        raise MediaError(f"ffprobe found no video stream: {result.stderr[-300:]!r}")
    duration = (data.get("format") or {}).get("duration") or video.get("duration")
    return MediaInfo(
        width=video.get("width"),
        height=video.get("height"),
        duration=round(float(duration), 2) if duration not in (None, "N/A") else None,
    )


def video_poster(source: Path, target: Path) -> bool:
    """The first frame as a JPEG thumbnail; False when ffmpeg is missing or cannot decode it."""
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return False
    command = [
        ffmpeg, "-nostdin", "-v", "error", "-y", "-i", str(source), "-frames:v", "1",
        "-vf", f"scale='min({THUMBNAIL_SIZE[0]},iw)':-2", "-f", "image2", "-c:v", "mjpeg", str(target),
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, timeout=TOOL_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return False
    return result.returncode == 0 and target.exists() and target.stat().st_size > 0
