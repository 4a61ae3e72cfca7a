"""read_frame conversions and errors, natural sort, JSON errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vis_pipeline.data import DataError, load_json, natural_key, read_frame


def _one_line_naming(exc: pytest.ExceptionInfo[DataError], path: Path) -> None:
    message = str(exc.value)
    assert str(path) in message
    assert "\n" not in message


def test_natural_key_orders_numbers_by_value() -> None:
    names = ["10.jpg", "2.jpg", "1.jpg", "00003.jpg", "img10b.png", "img2b.png", "IMG3.png", "a"]
    assert sorted(names, key=natural_key) == [
        "1.jpg", "2.jpg", "00003.jpg", "10.jpg", "a", "img2b.png", "IMG3.png", "img10b.png",
    ]  # fmt: skip
    # ties in value are broken by the name, so the order is total and deterministic
    assert sorted(["a1", "a01"], key=natural_key) == sorted(["a01", "a1"], key=natural_key)


def test_color_png_and_jpeg_read_as_bgr(tmp_path: Path) -> None:
    image = np.zeros((5, 7, 3), dtype=np.uint8)
    image[..., 0], image[..., 2] = 200, 30  # blue-ish in BGR
    cv2.imwrite(str(tmp_path / "f.png"), image)
    cv2.imwrite(str(tmp_path / "f.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 100])
    png, jpg = read_frame(tmp_path / "f.png"), read_frame(tmp_path / "f.jpg")
    assert png.dtype == np.uint8 and png.shape == (5, 7, 3)
    np.testing.assert_array_equal(png, image)
    assert jpg.shape == (5, 7, 3) and np.abs(jpg.astype(int) - image).max() <= 3


def test_grayscale_png_becomes_three_equal_channels(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    frame = read_frame(tmp_path / "g.png")
    assert frame.shape == (3, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(frame[..., channel], gray)


def test_rgba_png_drops_alpha(tmp_path: Path) -> None:
    bgra = np.zeros((4, 4, 4), dtype=np.uint8)
    bgra[..., 0], bgra[..., 1], bgra[..., 2] = 10, 120, 250
    bgra[..., 3] = np.arange(16, dtype=np.uint8).reshape(4, 4) * 16  # varying alpha must not matter
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    frame = read_frame(tmp_path / "a.png")
    assert frame.shape == (4, 4, 3)
    np.testing.assert_array_equal(frame, bgra[..., :3])


def test_16bit_png_scaled_full_range(tmp_path: Path) -> None:
    values = np.array([[0, 257, 257 * 100], [65535, 32768, 128]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "gray16.png"), values)
    color16 = np.stack([values, values // 2, np.full_like(values, 65535)], axis=2)
    cv2.imwrite(str(tmp_path / "color16.png"), color16)
    gray = read_frame(tmp_path / "gray16.png")
    expected = np.array([[0, 1, 100], [255, 128, 0]], dtype=np.uint8)  # round(v * 255 / 65535)
    np.testing.assert_array_equal(gray[..., 1], expected)
    color = read_frame(tmp_path / "color16.png")
    assert color.dtype == np.uint8
    np.testing.assert_array_equal(color[..., 0], expected)
    np.testing.assert_array_equal(color[..., 2], np.full((2, 3), 255, dtype=np.uint8))


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt_png", "text_as_jpg", "truncated_jpg"])
def test_bad_frames_raise_data_error_naming_the_file(tmp_path: Path, case: str) -> None:
    path = tmp_path / ("x.png" if "png" in case else "x.jpg")
    if case == "empty":
        path.write_bytes(b"")
    elif case == "corrupt_png":
        good = cv2.imencode(".png", np.full((8, 8, 3), 99, np.uint8))[1].tobytes()
        path.write_bytes(good[:20] + bytes(range(40)))  # valid signature, garbage chunks
    elif case == "text_as_jpg":
        path.write_text("this is not an image\n")
    elif case == "truncated_jpg":
        good = cv2.imencode(".jpg", np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))[1]
        path.write_bytes(good.tobytes()[: len(good) // 2])
    with pytest.raises(DataError) as exc:
        read_frame(path)
    _one_line_naming(exc, path)


def test_malformed_json_names_file_and_position(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"videos": [\n  {"id": 1,,}\n]}')
    with pytest.raises(DataError) as exc:
        load_json(path)
    _one_line_naming(exc, path)
    assert "line 2" in str(exc.value)
