"""Makes the image fixtures in Tests/Fixtures/images/ with Pillow from real photos in the
model cache (scikit-image's chelsea.png; `make models` fetches it).

Run: python Tools/goldens/image_goldens.py   (Pillow==11.1.0, numpy==2.1.3)

- Small PNG/JPEG files in every layout the decoder handles, cut from chelsea.png, each with
  the samples Pillow decodes (`<file>.u8`, raw interleaved bytes).
- resize-golden.json: Pillow's BILINEAR resize (mode "F" per channel, and 8-bit RGB) of
  rgb.png for several sizes and source boxes.
- pipeline-golden.json: torchvision's ImageNet transform geometry (Resize(256) + CenterCrop(224)
  done with Pillow exactly as torchvision's PIL backend does) and the fer recipe's geometry
  (L, centred square, 64x64) on whole cached photos, subsampled; and Pillow's decode of
  rocket.jpg, subsampled.
"""
import hashlib
import json
import os
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "images")
CACHE = os.environ.get("AIMET_SWIFT_CACHE", os.path.expanduser("~/.cache/aimet-swift"))
SKIMAGE = os.path.join(CACHE, "scikit-image", "skimage", "data")
COMMAND = f"python Tools/goldens/image_goldens.py  (Pillow=={PIL.__version__}, numpy=={np.__version__})"


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)


def write_png16_rgb(path, array):
    """A 16-bit RGB PNG (Pillow cannot write one): filter 0 on every row."""
    height, width, _ = array.shape
    raw = b"".join(b"\x00" + array[row].astype(">u2").tobytes() for row in range(height))
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    with open(path, "wb") as file:
        file.write(data)


def adam7_png_rgb(path, array):
    """An interlaced (Adam7) 8-bit RGB PNG (Pillow cannot write one)."""
    height, width, _ = array.shape
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = array[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        raw += b"".join(b"\x00" + sub[row].tobytes() for row in range(sub.shape[0]))
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 1))
    data += chunk(b"IDAT", zlib.compress(raw, 9))
    data += chunk(b"IEND", b"")
    with open(path, "wb") as file:
        file.write(data)


def save_expected(name, array):
    array = np.ascontiguousarray(array.astype(np.uint8))
    with open(os.path.join(OUT, name + ".u8"), "wb") as file:
        file.write(array.tobytes())
    channels = 1 if array.ndim == 2 else array.shape[2]
    return {"file": name, "width": int(array.shape[1]), "height": int(array.shape[0]), "channels": channels}


def decoder_fixtures():
    photo = np.asarray(Image.open(os.path.join(SKIMAGE, "chelsea.png")).convert("RGB"))
    rgb = photo[80:98, 200:224].copy()  # 24 x 18, the cat's face
    height, width, _ = rgb.shape
    alpha = ((np.arange(width)[None, :] * 10 + np.arange(height)[:, None] * 3) % 256).astype(np.uint8)
    cases = []

    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.png"))
    cases.append(save_expected("rgb.png", rgb))
    rgba = np.dstack([rgb, alpha])
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "rgba.png"))
    cases.append(save_expected("rgba.png", rgba))
    grey_image = Image.fromarray(rgb, "RGB").convert("L")
    grey_image.save(os.path.join(OUT, "grey.png"))
    grey = np.asarray(grey_image)
    cases.append(save_expected("grey.png", grey))
    grey_alpha = np.dstack([grey, alpha])
    Image.fromarray(grey_alpha, "LA").save(os.path.join(OUT, "grey-alpha.png"))
    cases.append(save_expected("grey-alpha.png", grey_alpha))

    palette = Image.fromarray(rgb, "RGB").quantize(colors=16, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    palette.save(os.path.join(OUT, "palette.png"))
    cases.append(save_expected("palette.png", np.asarray(Image.open(os.path.join(OUT, "palette.png")).convert("RGB"))))
    palette.save(os.path.join(OUT, "palette-transparent.png"), transparency=3)
    reopened = Image.open(os.path.join(OUT, "palette-transparent.png")).convert("RGBA")
    cases.append(save_expected("palette-transparent.png", np.asarray(reopened)))

    bilevel = grey_image.point(lambda value: 255 if value > 110 else 0).convert("1")
    bilevel.save(os.path.join(OUT, "bilevel.png"))
    cases.append(save_expected("bilevel.png", np.asarray(Image.open(os.path.join(OUT, "bilevel.png")).convert("L"))))

    noise = (np.arange(width * height).reshape(height, width) * 37 % 256).astype(np.uint16)
    grey16 = grey.astype(np.uint16) * 256 + noise
    Image.fromarray(grey16, "I;16").save(os.path.join(OUT, "grey16.png"))
    check = np.asarray(Image.open(os.path.join(OUT, "grey16.png")))
    assert (check.astype(np.uint16) == grey16).all(), "16-bit grey round trip"
    cases.append(save_expected("grey16.png", grey16 >> 8))
    rgb16 = rgb.astype(np.uint16) * 256 + noise[:, :, None]
    write_png16_rgb(os.path.join(OUT, "rgb16.png"), rgb16)
    cases.append(save_expected("rgb16.png", rgb16 >> 8))
    adam7_png_rgb(os.path.join(OUT, "interlaced.png"), rgb)
    cases.append(save_expected("interlaced.png", np.asarray(Image.open(os.path.join(OUT, "interlaced.png")).convert("RGB"))))

    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "rgb.jpg"), quality=92)
    cases.append(save_expected("rgb.jpg", np.asarray(Image.open(os.path.join(OUT, "rgb.jpg")))))
    grey_image.save(os.path.join(OUT, "grey.jpg"), quality=92)
    cases.append(save_expected("grey.jpg", np.asarray(Image.open(os.path.join(OUT, "grey.jpg")))))
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "progressive.jpg"), quality=85, progressive=True)
    cases.append(save_expected("progressive.jpg", np.asarray(Image.open(os.path.join(OUT, "progressive.jpg")))))
    return cases


def resize_goldens():
    source = Image.open(os.path.join(OUT, "rgb.png")).convert("RGB")
    planes = [source.getchannel(index).convert("F") for index in range(3)]
    cases = []
    specs = [
        ("shrink", (11, 7), None),
        ("enlarge", (37, 29), None),
        ("wide-and-flat", (50, 5), None),
        ("box", (9, 10), (3.5, 2.25, 20.0, 15.5)),
        ("box-enlarge", (30, 20), (4.0, 3.0, 14.0, 11.0)),
        ("identity", (24, 18), None),
    ]
    for name, size, box in specs:
        float_planes = [np.asarray(plane.resize(size, Image.BILINEAR, box=box), dtype=np.float32) for plane in planes]
        eight_bit = np.asarray(source.resize(size, Image.BILINEAR, box=box))
        box_value = box if box is not None else (0.0, 0.0, float(source.width), float(source.height))
        cases.append({
            "name": name, "width": size[0], "height": size[1], "box": [float(v) for v in box_value],
            "float_planar": [round(float(v), 5) for plane in float_planes for v in plane.reshape(-1)],
            "eight_bit_interleaved": [int(v) for v in eight_bit.reshape(-1)],
        })
    return {"source": "rgb.png", "cases": cases}


def torchvision_imagenet_geometry(image, shorter=256, crop=224):
    """torchvision.transforms Resize(shorter) + CenterCrop(crop) on a PIL image."""
    width, height = image.size
    if width <= height:
        size = (shorter, int(shorter * height / width))
    else:
        size = (int(shorter * width / height), shorter)
    if size != (width, height):
        image = image.resize(size, Image.BILINEAR)
    left = int(round((size[0] - crop) / 2.0))
    top = int(round((size[1] - crop) / 2.0))
    return image.crop((left, top, left + crop, top + crop))


def pipeline_goldens():
    result = {"subsample_step": 7, "imagenet": [], "fer": [], "decode": []}
    for file in ["chelsea.png", "rocket.jpg", "coins.png"]:
        image = Image.open(os.path.join(SKIMAGE, file)).convert("RGB")
        cropped = np.asarray(torchvision_imagenet_geometry(image))
        result["imagenet"].append({"photo": file, "samples": [int(v) for v in cropped[::7, ::7].reshape(-1)]})
    for file in ["chelsea.png", "astronaut.png"]:
        grey = Image.open(os.path.join(SKIMAGE, file)).convert("RGB").convert("L")
        side = min(grey.size)
        left = (grey.size[0] - side) // 2
        top = (grey.size[1] - side) // 2
        square = grey.crop((left, top, left + side, top + side)).resize((64, 64), Image.BILINEAR)
        result["fer"].append({"photo": file, "samples": [int(v) for v in np.asarray(square).reshape(-1)]})
    for file in ["rocket.jpg", "hubble_deep_field.jpg"]:
        decoded = np.asarray(Image.open(os.path.join(SKIMAGE, file)).convert("RGB"))
        result["decode"].append({"photo": file, "width": decoded.shape[1], "height": decoded.shape[0],
                                 "samples": [int(v) for v in decoded[::13, ::13].reshape(-1)]})
    return result


def main():
    if not os.path.isdir(SKIMAGE):
        sys.exit(f"{SKIMAGE} is missing: run `make models` first")
    os.makedirs(OUT, exist_ok=True)
    cases = decoder_fixtures()
    with open(os.path.join(OUT, "decoder-golden.json"), "w") as file:
        json.dump({"cases": cases}, file, indent=1, sort_keys=True)
    with open(os.path.join(OUT, "resize-golden.json"), "w") as file:
        json.dump(resize_goldens(), file, separators=(",", ":"), sort_keys=True)
    with open(os.path.join(OUT, "pipeline-golden.json"), "w") as file:
        json.dump(pipeline_goldens(), file, separators=(",", ":"), sort_keys=True)
    lines = []
    for name in sorted(os.listdir(OUT)):
        if name == "MANIFEST":
            continue
        with open(os.path.join(OUT, name), "rb") as file:
            digest = hashlib.sha256(file.read()).hexdigest()
        lines.append(f"{digest}  {name}  {COMMAND}")
    with open(os.path.join(OUT, "MANIFEST"), "w") as file:
        file.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
