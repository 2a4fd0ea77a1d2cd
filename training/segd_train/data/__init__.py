"""Datasets (CamVid, Cityscapes, generic folders), the resident split loader and on-device augmentation."""
from .classes import CITYSCAPES_CLASSES, ClassInfo, ClassTable, DatasetError, load_classes_json
from .dataset import Sample, SegDataset, SegDatasetProtocol
from .device_split import DeviceSplit, TrainBatches
from .gpu_augment import AugmentConfig, GpuAugment
from .layouts import DATASET_LAYOUTS, build_dataset, camvid_dataset, cityscapes_dataset, folder_dataset
from .normalize import MEAN, STD, normalize
from .paths import REPO_ROOT, resolve_data_root, shared_dir

__all__ = [
    "AugmentConfig", "CITYSCAPES_CLASSES", "ClassInfo", "ClassTable", "DATASET_LAYOUTS", "DatasetError",
    "DeviceSplit", "GpuAugment", "MEAN", "REPO_ROOT", "STD", "Sample", "SegDataset", "SegDatasetProtocol",
    "TrainBatches", "build_dataset", "camvid_dataset", "cityscapes_dataset", "folder_dataset",
    "load_classes_json", "normalize", "resolve_data_root", "shared_dir",
]
