"""Image datasets for weight-sharing supernets, and the thesis' D_T / D_V split.

CIFAR-10 and CIFAR-100 come through torchvision's own dataset classes, read from
a local ``root`` (``download=True`` fetches them, for users with internet).
``digits`` are the 1,797 real 8x8 handwritten digits that scikit-learn ships inside
its wheel (:func:`sklearn.datasets.load_digits`: no download, no ``root``), see
:class:`DigitsDataset`; ``digits16`` / ``digits32`` are the same images upsampled.
Any other dataset is a ``torchvision.datasets.ImageFolder`` with ``train/`` and
``val/`` sub-folders. Mills (2020, Sec. 3.2 and 4.2.2) splits the official
training set in two halves: D_T trains the supernet weights and D_V scores
architectures; the test set is kept for final reporting only.

Randomness (split, shuffling, batch augmentation) always comes from local
generators, so library code never touches the global RNGs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset
from torchvision import datasets as tv_datasets
from torchvision import transforms as T
from torchvision.datasets.utils import check_integrity

from nas_gym.data import DataError, atomic_write_bytes
from nas_gym.safe_pickle import NUMPY_ARRAY_GLOBALS, load_pickle_file

#: Digits variants: name -> image side (8 = scikit-learn's native size; others upsampled).
DIGITS_SIZES: dict[str, int] = {"digits": 8, "digits16": 16, "digits32": 32}

#: Dataset names :func:`load_image_dataset` understands.
DATASETS: tuple[str, ...] = ("cifar10", "cifar100", "imagefolder", *DIGITS_SIZES)

#: Per-channel mean / std of the CIFAR training sets (the values DARTS uses).
CIFAR10_MEAN = (0.49139968, 0.48215827, 0.44653124)
CIFAR10_STD = (0.24703233, 0.24348505, 0.26158768)
CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

#: Per-channel mean / std of the digits training split (the 3 channels are equal), at
#: each image side (bilinear upsampling changes them slightly); ``tests/test_digits.py``
#: recomputes them from the data.
DIGITS_MEAN = {"digits": 0.30546, "digits16": 0.30541, "digits32": 0.30539}
DIGITS_STD = {"digits": 0.37609, "digits16": 0.31883, "digits32": 0.32388}

#: Cutout lengths recommended by DeVries & Taylor (2017), used by the thesis (Sec. 3.4.3).
CUTOUT_LENGTH = {"cifar10": 16, "cifar100": 8}

_NUM_CLASSES = {"cifar10": 10, "cifar100": 100, **dict.fromkeys(DIGITS_SIZES, 10)}

#: Where a dataset directory comes from, for every data error.
_ROOT_HINT = (
    "Another directory: root=DIR (command line: --root DIR); DARTSSupernet-v0, "
    "ProxylessNAS-v0 and `nas-gym supernet pretrain` default to $NAS_GYM_DATASETS_DIR."
)


def _without_checksums(file_list: list[list[str]]) -> list[list[Any]]:
    return [[name, None] for name, _ in file_list]


class _RestrictedCIFAR:
    """Reads the CIFAR batch files through nas_gym's restricted unpickler (no code runs).

    torchvision unpickles the batches with ``pickle.load``, which would run code from a
    crafted file; this mixin replaces its loading with
    :func:`nas_gym.safe_pickle.load_pickle_file`, admitting plain data and numpy arrays.
    """

    def __init__(
        self,
        root: str,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        tv_datasets.VisionDataset.__init__(
            self, root, transform=transform, target_transform=target_transform
        )
        self.train = train
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted (files missing or MD5 mismatch)")
        data, targets = [], []
        for file_name, _ in self.train_list if train else self.test_list:
            entry = self._read(file_name)
            data.append(np.asarray(entry["data"], dtype=np.uint8))
            targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1))
        self.targets = [int(t) for t in targets]
        self._load_meta()

    def _read(self, file_name: str) -> dict[str, Any]:
        entry = load_pickle_file(
            os.path.join(self.root, self.base_folder, file_name),
            encoding="latin1",
            extra_globals=NUMPY_ARRAY_GLOBALS,
        )
        if not isinstance(entry, dict):
            raise RuntimeError(f"{file_name} is not a CIFAR batch (a dict)")
        return entry

    def _load_meta(self) -> None:
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted (MD5 mismatch)")
        self.classes = self._read(self.meta["filename"])[self.meta["key"]]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


class _CIFAR10(_RestrictedCIFAR, tv_datasets.CIFAR10):
    """torchvision's CIFAR-10 (MD5-checked), read without unpickling code."""


class _CIFAR100(_RestrictedCIFAR, tv_datasets.CIFAR100):
    """torchvision's CIFAR-100 (MD5-checked), read without unpickling code."""


class _UnverifiedCIFAR10(_RestrictedCIFAR, tv_datasets.CIFAR10):
    """torchvision's CIFAR-10 reader with the MD5 check off (for subsets in the official format)."""

    train_list = _without_checksums(tv_datasets.CIFAR10.train_list)
    test_list = _without_checksums(tv_datasets.CIFAR10.test_list)
    meta = {**tv_datasets.CIFAR10.meta, "md5": None}


class _UnverifiedCIFAR100(_RestrictedCIFAR, tv_datasets.CIFAR100):
    """torchvision's CIFAR-100 reader with the MD5 check off."""

    train_list = _without_checksums(tv_datasets.CIFAR100.train_list)
    test_list = _without_checksums(tv_datasets.CIFAR100.test_list)
    meta = {**tv_datasets.CIFAR100.meta, "md5": None}


_CIFAR = {
    "cifar10": (_CIFAR10, _UnverifiedCIFAR10),
    "cifar100": (_CIFAR100, _UnverifiedCIFAR100),
}


DIGITS_EXTRA_HINT = "pip install nas-gym[digits]"


def _load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as (N, 8, 8) float64 in [0, 16] and int labels."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:
        raise DataError(
            "the 'digits' datasets need scikit-learn, which ships the images inside its wheel "
            f"(no download): {DIGITS_EXTRA_HINT} (or pip install scikit-learn)"
        ) from err
    bunch = load_digits()
    return np.asarray(bunch.images, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)


def digits_split(targets: np.ndarray) -> np.ndarray:
    """Boolean test mask of the fixed, stratified digits train/test split.

    scikit-learn ships no split, so ours is a rule with no randomness: within each
    class, in scikit-learn's order, every fifth image (positions 0, 5, 10, ...) is a
    test image. That gives 364 test and 1,433 training images, each class about 20 %
    test, identical on every machine and scikit-learn version.
    """
    test = np.zeros(len(targets), dtype=bool)
    for c in np.unique(targets):
        test[np.flatnonzero(targets == c)[::5]] = True
    return test


class DigitsDataset(Dataset):
    """scikit-learn's real 8x8 handwritten digits (Alpaydin & Kaynak 1998, UCI optdigits).

    The 1,797 grey images (16 intensity levels) become uint8 RGB images (the grey
    value copied into all 3 channels, so every supernet's RGB stem takes them),
    upsampled bilinearly to ``size`` when it is not 8. Items are ``(transform(PIL
    image), label)`` like torchvision's CIFAR classes, so the CIFAR pipelines
    (resize, crop, normalize) apply unchanged. The train/test split is
    :func:`digits_split`; D_T / D_V come from :func:`split_train` as for CIFAR.

    Args:
        train: the 1,433 training images (True) or the 364 test images (False).
        size: image side, 8 (native), 16 or 32.
        transform: per-sample transform (default ``ToTensor()``).
    """

    def __init__(self, train: bool = True, size: int = 8, transform: Callable | None = None):
        sizes = sorted(set(DIGITS_SIZES.values()))
        if size not in sizes:
            raise ValueError(f"digits image size must be one of {sizes}, got {size!r}")
        images, targets = _load_sklearn_digits()
        keep = ~digits_split(targets) if train else digits_split(targets)
        x = torch.as_tensor(images[keep] / 16.0, dtype=torch.float32)[:, None]
        if size != 8:
            x = torch.nn.functional.interpolate(
                x, size=(size, size), mode="bilinear", align_corners=False
            )
        x = (x.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8)
        self.data = x.expand(-1, 3, -1, -1).permute(0, 2, 3, 1).contiguous().numpy()
        self.targets = [int(t) for t in targets[keep]]
        self.classes = [str(c) for c in range(10)]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        self.transform = transform if transform is not None else T.ToTensor()

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.data[index])), self.targets[index]


def hflip_keeps_class(name: str) -> bool:
    """Whether a horizontal flip is a label-preserving augmentation for ``name``.

    True for natural images (CIFAR, ImageNet folders); False for handwritten digits,
    whose mirror image is not a digit of the same class.
    """
    return name not in DIGITS_SIZES


def num_classes(name: str, dataset: Dataset | None = None) -> int:
    """Number of classes of a named dataset (an ImageFolder needs the loaded ``dataset``)."""
    if name in _NUM_CLASSES:
        return _NUM_CLASSES[name]
    if name == "imagefolder" and dataset is not None:
        base = dataset.dataset if isinstance(dataset, Subset) else dataset
        return len(base.classes)
    raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(map(repr, DATASETS))}")


def cifar_files(name: str) -> list[str]:
    """The python-version files torchvision reads for ``name`` (relative to ``root``)."""
    cls = _CIFAR[name][0]
    names = [f for f, _ in cls.train_list + cls.test_list] + [cls.meta["filename"]]
    return [f"{cls.base_folder}/{f}" for f in names]


def load_image_dataset(
    name: str,
    root: str | os.PathLike[str],
    train: bool,
    transform: Callable | None = None,
    download: bool = False,
    verify: bool = True,
) -> Dataset:
    """Load a training or test set.

    Args:
        name: ``"cifar10"``, ``"cifar100"`` (torchvision's classes), ``"imagefolder"``
            (``root/train`` or ``root/val``, one sub-folder per class), or ``"digits"``,
            ``"digits16"``, ``"digits32"`` (:class:`DigitsDataset` at 8, 16, 32 px; needs
            scikit-learn: ``pip install nas-gym[digits]``).
        root: local directory; for CIFAR it holds ``cifar-10-batches-py/`` or
            ``cifar-100-python/``. Unused for digits (the images come with scikit-learn).
        train: the official training set (True) or the test set (False).
        transform: per-sample transform (default: ``ToTensor()``).
        download: passed to torchvision (needs internet).
        verify: check the CIFAR files' MD5 sums against the official release. Set
            False to read a subset written in the same pickle format.

    Raises:
        DataError: files missing or corrupt, saying where they were expected.
        ValueError: unknown ``name``.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; allowed: {', '.join(map(repr, DATASETS))}")
    root = Path(root).expanduser()
    transform = transform if transform is not None else T.ToTensor()
    if name in DIGITS_SIZES:
        return DigitsDataset(train=train, size=DIGITS_SIZES[name], transform=transform)
    if name == "imagefolder":
        folder = root / ("train" if train else "val")
        if not folder.is_dir():
            raise DataError(
                f"image folder {str(folder)!r} not found: an 'imagefolder' dataset needs "
                f"{str(root / 'train')!r} and {str(root / 'val')!r}, each with one sub-folder "
                f"of images per class. {_ROOT_HINT}"
            )
        return tv_datasets.ImageFolder(str(folder), transform=transform)

    verified_cls, unverified_cls = _CIFAR[name]
    if not download:
        missing = [f for f in cifar_files(name) if not (root / f).is_file()]
        if missing:
            raise DataError(
                f"{name} not found: expected the python-version batches under "
                f"{str(root / verified_cls.base_folder)!r} (missing: {', '.join(missing)}). "
                f"To fetch it (needs internet; torchvision downloads {verified_cls.url}) pass "
                "download=True, or --download on the nas-gym command line; or extract "
                f"{verified_cls.filename} into {str(root)!r}. {_ROOT_HINT}"
            )
        if verify:
            bad = [
                f"{verified_cls.base_folder}/{f}"
                for f, md5 in verified_cls.train_list + verified_cls.test_list
                if not check_integrity(str(root / verified_cls.base_folder / f), md5)
            ]
            if bad:
                raise DataError(
                    f"{name} files under {str(root)!r} do not match the official release "
                    f"(MD5 mismatch: {', '.join(bad)}). Re-extract {verified_cls.filename}; "
                    "or, to read a subset written in the same pickle format, turn the check "
                    "off: verify_data=False for DARTSSupernet-v0 / ProxylessNAS-v0, "
                    "verify=False for load_image_dataset, --no-verify on the nas-gym command line."
                )
    cls = verified_cls if verify else unverified_cls
    try:
        return cls(str(root), train=train, transform=transform, download=download)
    except RuntimeError as err:  # torchvision's "not found or corrupted" after a failed download
        raise DataError(f"{name} could not be read from {str(root)!r}: {err}") from err


class Cutout:
    """Zero a random ``length x length`` square (clipped at the borders) of a CHW tensor.

    DeVries & Taylor (2017); the square's centre is uniform over the image, as in DARTS.
    Draws from torch's default RNG like every torchvision random transform.
    """

    def __init__(self, length: int):
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            raise ValueError(f"cutout length must be a positive integer, got {length!r}")
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        cy = int(torch.randint(h, ()).item())
        cx = int(torch.randint(w, ()).item())
        half = self.length // 2
        img = img.clone()
        img[..., max(cy - half, 0) : cy + half, max(cx - half, 0) : cx + half] = 0.0
        return img

    def __repr__(self) -> str:
        return f"Cutout(length={self.length})"


def cifar_transforms(
    train: bool,
    cutout: int = 0,
    mean: Sequence[float] = CIFAR10_MEAN,
    std: Sequence[float] = CIFAR10_STD,
    resolution: int | None = None,
    flip: bool = True,
    side: int = 32,
) -> T.Compose:
    """Per-sample CIFAR pipeline: (resize), (random crop with 4-pixel padding, flip), normalize, (cutout).

    The padding scales with the image side (4/32 of it) so small proxies keep the
    same relative shift; ``side`` is the stored side, used when ``resolution`` is None.
    ``flip=False`` leaves out the horizontal flip (see :func:`hflip_keeps_class`).
    ``train=False`` gives only resize + normalize.
    """
    if cutout < 0:
        raise ValueError(f"cutout must be >= 0 (0 = off), got {cutout!r}")
    if resolution is not None and (isinstance(resolution, bool) or resolution < 1):
        raise ValueError(f"resolution must be a positive integer or None, got {resolution!r}")
    steps: list[Callable] = []
    if resolution is not None:
        steps.append(T.Resize((resolution, resolution), antialias=True))
    if train:
        side = resolution or side
        steps.append(T.RandomCrop(side, padding=max(1, round(4 * side / 32))))
        if flip:
            steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if train and cutout:
        steps.append(Cutout(cutout))
    return T.Compose(steps)


def dataset_transforms(
    name: str, train: bool, cutout: int = 0, resolution: int | None = None
) -> T.Compose:
    """:func:`cifar_transforms` with the dataset's own statistics, side and flip rule."""
    mean, std = normalization(name)
    side = DIGITS_SIZES.get(name, 32)
    return cifar_transforms(
        train, cutout, mean, std, resolution, flip=hflip_keeps_class(name), side=side
    )


def normalization(name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) for a dataset name (ImageNet statistics for an ImageFolder)."""
    if name in DIGITS_SIZES:
        return (DIGITS_MEAN[name],) * 3, (DIGITS_STD[name],) * 3
    if name == "cifar100":
        return CIFAR100_MEAN, CIFAR100_STD
    if name == "cifar10":
        return CIFAR10_MEAN, CIFAR10_STD
    return (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    pad: int = 0,
    flip: bool = False,
    cutout: int = 0,
) -> torch.Tensor:
    """Random crop (zero padding ``pad``), horizontal flip and cutout of a NCHW batch.

    The same augmentation as :func:`cifar_transforms`, done on the whole batch on its
    device with the caller's CPU ``generator``. Loops that checkpoint use it so a
    resumed run replays exactly the augmentation an uninterrupted run would draw.
    """
    if pad < 0 or cutout < 0:
        raise ValueError(f"pad and cutout must be >= 0, got pad={pad!r}, cutout={cutout!r}")
    n, _, h, w = x.shape
    dev = x.device
    if pad:
        padded = torch.nn.functional.pad(x, (pad, pad, pad, pad))
        oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(dev)
        rows = (oy[:, None] + torch.arange(h, device=dev))[:, None, :, None]
        cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, None, :]
        batch = torch.arange(n, device=dev)[:, None, None, None]
        chans = torch.arange(x.shape[1], device=dev)[None, :, None, None]
        x = padded[batch, chans, rows, cols]
    if flip:
        mask = (torch.rand(n, generator=generator) < 0.5).to(dev)
        x = torch.where(mask[:, None, None, None], x.flip(-1), x)
    if cutout:
        cy = torch.randint(0, h, (n,), generator=generator).to(dev)
        cx = torch.randint(0, w, (n,), generator=generator).to(dev)
        half = cutout // 2
        ys = torch.arange(h, device=dev)[None, :]
        xs = torch.arange(w, device=dev)[None, :]
        in_y = (ys >= cy[:, None] - half) & (ys < cy[:, None] + half)
        in_x = (xs >= cx[:, None] - half) & (xs < cx[:, None] + half)
        hole = in_y[:, :, None] & in_x[:, None, :]
        x = x.masked_fill(hole[:, None, :, :], 0.0)
    return x


def check_train_fraction(fraction: float, name: str = "train fraction") -> float:
    """``fraction`` if it is strictly between 0 and 1 (the share of D_T), named in the error."""
    if isinstance(fraction, bool) or not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"{name} must be strictly between 0 and 1, got {fraction!r}")
    return float(fraction)


def split_train(dataset: Dataset, fraction: float = 0.5, seed: int = 0) -> tuple[Subset, Subset]:
    """Split a training set into (D_T, D_V), D_T holding ``fraction`` of it.

    A fixed random permutation (local generator seeded by ``seed``), so the same
    seed always gives the same disjoint halves (Mills 2020, Sec. 3.2: 25k / 25k).
    """
    check_train_fraction(fraction)
    n = len(dataset)
    n_train = int(round(n * float(fraction)))
    if n_train < 1 or n_train >= n:
        raise ValueError(f"train fraction {fraction} of {n} samples leaves an empty D_T or D_V")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(int(seed))).tolist()
    return Subset(dataset, sorted(perm[:n_train])), Subset(dataset, sorted(perm[n_train:]))


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    seed: int,
    num_workers: int = 0,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader whose shuffling and worker seeds come from its own generator.

    ``loader.generator`` holds the whole data-order state, so checkpointing it and
    restoring it replays the same batches.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {num_workers!r}")
    generator = torch.Generator().manual_seed(int(seed))
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        generator=generator,
        num_workers=num_workers,
        drop_last=drop_last,
        pin_memory=pin_memory,
        persistent_workers=False,
    )


def resolve_device(device: str | torch.device) -> torch.device:
    """``"cpu"``, ``"cuda"`` or ``"cuda:N"`` as a torch.device, checked against this machine."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}")
    available = ["cpu"]
    if torch.cuda.is_available():
        available += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda" or device.startswith("cuda:"):
        index = device[5:]
        if device != "cuda" and not index.isdigit():
            raise ValueError(f"unknown device {device!r}; allowed: 'cpu', 'cuda', 'cuda:N'")
        if device not in available:
            raise ValueError(
                f"device {device!r} is not available on this machine; available: {', '.join(available)}"
            )
        return torch.device(device)
    raise ValueError(
        f"unknown device {device!r}; allowed: 'cpu', 'cuda', 'cuda:N' (available: {', '.join(available)})"
    )


def write_cifar_batches(
    root: str | os.PathLike[str],
    name: str,
    train: tuple[Any, Sequence[int]],
    test: tuple[Any, Sequence[int]],
    label_names: Sequence[str] | None = None,
) -> Path:
    """Write images in the official python-version CIFAR layout (pickled batches).

    Makes small CIFAR-format subsets (e.g. a proxy of a few images per class) that
    torchvision's CIFAR classes read with ``verify=False``. Images are uint8 arrays of
    shape (N, 32, 32, 3); the training set is spread over the official batch files.
    Each file is written atomically (:func:`nas_gym.data.atomic_write_bytes`).

    Returns:
        The dataset folder written (``root/cifar-10-batches-py`` or ``root/cifar-100-python``).
    """
    import pickle

    import numpy as np

    if name not in _CIFAR:
        raise ValueError(f"unknown CIFAR dataset {name!r}; allowed: 'cifar10', 'cifar100'")
    cls = _CIFAR[name][0]
    n_classes = _NUM_CLASSES[name]
    label_names = (
        list(label_names) if label_names is not None else [f"class_{i}" for i in range(n_classes)]
    )
    folder = Path(root) / cls.base_folder
    folder.mkdir(parents=True, exist_ok=True)
    label_key = "labels" if name == "cifar10" else "fine_labels"

    def rows(images: Any, labels: Sequence[int]) -> tuple[np.ndarray, list[int]]:
        arr = np.asarray(images, dtype=np.uint8)
        if arr.ndim != 4 or arr.shape[1:] != (32, 32, 3) or len(arr) != len(labels):
            raise ValueError(
                f"images must be (N, 32, 32, 3) uint8 with N labels, got {arr.shape} and {len(labels)}"
            )
        return arr.transpose(0, 3, 1, 2).reshape(len(arr), -1), [int(v) for v in labels]

    def dump(filename: str, data: np.ndarray, labels: list[int]) -> None:
        batch = {"data": data, label_key: labels, "batch_label": filename}
        atomic_write_bytes(folder / filename, pickle.dumps(batch))

    data, labels = rows(*train)
    parts = np.array_split(np.arange(len(labels)), len(cls.train_list))
    for (filename, _), idx in zip(cls.train_list, parts, strict=True):
        dump(filename, data[idx], [labels[i] for i in idx])
    data, labels = rows(*test)
    dump(cls.test_list[0][0], data, labels)
    atomic_write_bytes(folder / cls.meta["filename"], pickle.dumps({cls.meta["key"]: label_names}))
    return folder
