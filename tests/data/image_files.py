"""Generated image files for the source tests: real-world oddities of ImageNet."""

import io
import os

import numpy as np
from PIL import Image


def photo(seed: int, height: int = 60, width: int = 80) -> np.ndarray:
    """A smooth random RGB uint8 image (compresses like a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    channels = [np.sin(6 * (a * x + b * y) + c) for a, b, c in rng.uniform(0, 3, (3, 3))]
    return ((np.stack(channels, -1) + 1) * 127.5).astype(np.uint8)


def encode(array: np.ndarray, kind: str) -> bytes:
    """Encode as "jpeg", "png", "cmyk" (CMYK JPEG), "gray" (grayscale JPEG), "webp", "webp_alpha",
    "webp_animated", "exif_rotated" (JPEG, EXIF orientation 6) or "corrupt"."""
    buffer = io.BytesIO()
    image = Image.fromarray(array)
    if kind == "jpeg":
        image.save(buffer, "JPEG", quality=95)
    elif kind == "png":
        image.save(buffer, "PNG")
    elif kind == "cmyk":
        image.convert("CMYK").save(buffer, "JPEG", quality=95)
    elif kind == "gray":
        image.convert("L").save(buffer, "JPEG", quality=95)
    elif kind == "webp":
        image.save(buffer, "WEBP", quality=90)
    elif kind == "webp_alpha":  # lossless, with a varying alpha channel (dropped on decoding)
        alpha = Image.fromarray(
            ((np.arange(array.shape[1]) * 7) % 256).astype(np.uint8)[None].repeat(array.shape[0], 0)
        )
        rgba = image.convert("RGBA")
        rgba.putalpha(alpha)
        rgba.save(buffer, "WEBP", lossless=True)
    elif kind == "webp_animated":
        image.save(buffer, "WEBP", save_all=True, append_images=[Image.fromarray(255 - array)], lossless=True)
    elif kind == "exif_rotated":  # a JPEG whose EXIF says "rotate 90 degrees clockwise to display"
        exif = Image.Exif()
        exif[0x0112] = 6
        image.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    elif kind == "corrupt":
        image.save(buffer, "JPEG")
        return buffer.getvalue()[:200] + b"\x00garbage" * 10
    else:
        raise ValueError(kind)
    return buffer.getvalue()


KINDS = ("jpeg", "png", "cmyk", "gray")


def write(path: str, data: bytes) -> str:
    """Write `data` to `path` (folders made); returns the path."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def make_folder(root: str, classes: int = 2, per_class: int = 4, corrupt: bool = False, size=(60, 80)) -> dict:
    """root/<class_i>/<n>.jpg with every kind of file, all named .jpg; returns {path: kind}."""
    made = {}
    for c in range(classes):
        os.makedirs(os.path.join(root, f"class_{c}"), exist_ok=True)
        for n in range(per_class):
            kind = KINDS[(c * per_class + n) % len(KINDS)]
            path = os.path.join(root, f"class_{c}", f"{n:03d}.jpg")
            with open(path, "wb") as f:
                f.write(encode(photo(c * 100 + n, *size), kind))
            made[path] = kind
    if corrupt:
        path = os.path.join(root, "class_0", "zz_corrupt.jpg")
        with open(path, "wb") as f:
            f.write(encode(photo(999, *size), "corrupt"))
        made[path] = "corrupt"
    return made
