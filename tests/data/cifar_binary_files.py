"""Small CIFAR-10/100 binary data sets in the real format, for tests (and the journey suite).

Records are written from the format's documentation, independently of the loader: one label byte
(CIFAR-100: coarse then fine) and the 1024 red, 1024 green, 1024 blue bytes of a 32x32 image, each
plane row-major. Members and folders carry the real names of `cifar-10-binary.tar.gz` and
`cifar-100-binary.tar.gz`. Images cycle through pure red, pure green, pure blue and a gradient
(red = 8 * row, green = 8 * column, blue = the image's index mod 256), so channel order and
row/column order are both visible.

    path = write_cifar10_binary(tmp_path, n_per_batch=3)            # tmp_path/cifar-10-binary.tar.gz
    x_train, y_train, x_test, y_test = cifar10_arrays(n_per_batch=3)  # what it holds
"""

from __future__ import annotations

import io
import os
import tarfile

import numpy as np

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_COARSE_NAMES = [
    "aquatic_mammals",
    "fish",
    "flowers",
    "food_containers",
    "fruit_and_vegetables",
    "household_electrical_devices",
    "household_furniture",
    "insects",
    "large_carnivores",
    "large_man-made_outdoor_things",
    "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores",
    "medium_mammals",
    "non-insect_invertebrates",
    "people",
    "reptiles",
    "small_mammals",
    "trees",
    "vehicles_1",
    "vehicles_2",
]
CIFAR100_FINE_NAMES = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus
butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab crocodile cup
dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp lawn_mower leopard lion
lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange orchid otter palm_tree pear
pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew
skunk skyscraper snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television
tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm""".split()
TEST_OFFSET = 1000  # test images' indices start here, so no test image equals a train image
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def image(index: int) -> np.ndarray:
    """Image `index` as uint8 [32, 32, 3] (HWC, RGB)."""
    kind = index % 4
    if kind < 3:
        return np.broadcast_to(np.array((RED, GREEN, BLUE)[kind], np.uint8), (32, 32, 3)).copy()
    rows, cols = np.mgrid[0:32, 0:32]
    return np.stack([8 * rows, 8 * cols, np.full((32, 32), index % 256)], -1).astype(np.uint8)


def cifar10_label(index: int) -> int:
    return (3 * index + 1) % 10


def cifar100_labels(index: int) -> tuple[int, int]:
    """(coarse, fine) of image `index`; fine labels reach 99."""
    fine = (37 * index + 99) % 100
    return fine // 5, fine


def _record(labels: tuple[int, ...], picture: np.ndarray) -> bytes:
    planes = b"".join(picture[:, :, c].tobytes(order="C") for c in range(3))  # R, G, B; rows in order
    return bytes(labels) + planes


def _batch(indices, labels_of) -> bytes:
    return b"".join(_record(labels_of(i), image(i)) for i in indices)


def cifar10_files(n_per_batch: int = 3) -> dict[str, bytes]:
    """{member name inside cifar-10-binary.tar.gz: contents}."""
    files = {"cifar-10-batches-bin/batches.meta.txt": ("\n".join(CIFAR10_NAMES) + "\n\n").encode()}
    for b in range(5):
        indices = range(b * n_per_batch, (b + 1) * n_per_batch)
        files[f"cifar-10-batches-bin/data_batch_{b + 1}.bin"] = _batch(indices, lambda i: (cifar10_label(i),))
    test = range(TEST_OFFSET, TEST_OFFSET + n_per_batch)
    files["cifar-10-batches-bin/test_batch.bin"] = _batch(test, lambda i: (cifar10_label(i),))
    return files


def cifar100_files(n_train: int = 6, n_test: int = 3) -> dict[str, bytes]:
    """{member name inside cifar-100-binary.tar.gz: contents}."""
    return {
        "cifar-100-binary/coarse_label_names.txt": ("\n".join(CIFAR100_COARSE_NAMES) + "\n").encode(),
        "cifar-100-binary/fine_label_names.txt": ("\n".join(CIFAR100_FINE_NAMES) + "\n").encode(),
        "cifar-100-binary/train.bin": _batch(range(n_train), cifar100_labels),
        "cifar-100-binary/test.bin": _batch(range(TEST_OFFSET, TEST_OFFSET + n_test), cifar100_labels),
    }


def cifar10_arrays(n_per_batch: int = 3):
    """(x_train, y_train, x_test, y_test) that `cifar10_files(n_per_batch)` holds."""
    train, test = range(5 * n_per_batch), range(TEST_OFFSET, TEST_OFFSET + n_per_batch)
    return (
        np.stack([image(i) for i in train]),
        np.array([cifar10_label(i) for i in train], np.int32),
        np.stack([image(i) for i in test]),
        np.array([cifar10_label(i) for i in test], np.int32),
    )


def cifar100_arrays(n_train: int = 6, n_test: int = 3, labels: str = "fine"):
    """(x_train, y_train, x_test, y_test) that `cifar100_files(n_train, n_test)` holds."""
    column = {"coarse": 0, "fine": 1}[labels]
    train, test = range(n_train), range(TEST_OFFSET, TEST_OFFSET + n_test)
    return (
        np.stack([image(i) for i in train]),
        np.array([cifar100_labels(i)[column] for i in train], np.int32),
        np.stack([image(i) for i in test]),
        np.array([cifar100_labels(i)[column] for i in test], np.int32),
    )


def write_tree(path, files: dict[str, bytes], archive: str | None) -> str:
    """Write `files` under folder `path`: as the tar.gz `archive` (file name) if given, with a
    directory entry for each top folder as in the originals, else extracted. Returns the archive's
    path or the top folder's."""
    os.makedirs(path, exist_ok=True)
    top = next(iter(files)).split("/")[0]
    if archive is None:
        for name, content in files.items():
            os.makedirs(os.path.join(path, os.path.dirname(name)), exist_ok=True)
            with open(os.path.join(path, name), "wb") as f:
                f.write(content)
        return os.path.join(path, top)
    target = os.path.join(path, archive)
    with tarfile.open(target, "w:gz") as tar:
        folder = tarfile.TarInfo(top)
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(folder)
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return target


def write_cifar10_binary(path, n_per_batch: int = 3, archive: bool = True) -> str:
    """`path`/cifar-10-binary.tar.gz (archive=True) or `path`/cifar-10-batches-bin/; returns it."""
    return write_tree(path, cifar10_files(n_per_batch), "cifar-10-binary.tar.gz" if archive else None)


def write_cifar100_binary(path, n_train: int = 6, n_test: int = 3, archive: bool = True) -> str:
    """`path`/cifar-100-binary.tar.gz (archive=True) or `path`/cifar-100-binary/; returns it."""
    return write_tree(path, cifar100_files(n_train, n_test), "cifar-100-binary.tar.gz" if archive else None)
