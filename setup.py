"""Install keras_resnet_paper: `pip install .` (extras: test, examples, cv, jax, torch)."""

import pathlib

from setuptools import find_packages, setup

HERE = pathlib.Path(__file__).parent
VERSION = {}
exec((HERE / "keras_resnet_paper" / "version.py").read_text(), VERSION)

EXAMPLES = ["scikit-learn>=1.2", "matplotlib>=3.5", "pillow>=9", "tensorboard>=2.16"]
JAX = ["jax>=0.4.36"]

setup(
    name="keras_resnet_paper",
    version=VERSION["__version__"],
    description=(
        "Deep Residual Learning for Image Recognition (He et al., CVPR 2016), "
        "faithfully in Keras 3 / TensorFlow"
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["keras_resnet_paper", "keras_resnet_paper.*"]),
    install_requires=[
        "tensorflow>=2.16",
        "keras>=3.0",
        "tensorflow-datasets>=4.9",
        # tensorflow-datasets imports the `importlib_resources` backport (tfds DatasetBuilder.code_path)
        # before any download or prepare, and does not declare it: without it every tfds-backed run
        # ends in "No module named 'importlib_resources'".
        "importlib_resources>=5",
        "absl-py>=1.0",
        "numpy>=1.23",
        "h5py>=3.0",
    ],
    extras_require={
        # The offline main job (scikit-learn's digits) and its plots.
        "examples": EXAMPLES,
        # The JAX backend (KERAS_BACKEND=jax): CPU wheels here; on GPUs install jax[cuda12] instead.
        "jax": JAX,
        # The PyTorch backend (KERAS_BACKEND=torch): large wheels (on CPU-only machines install them
        # from https://download.pytorch.org/whl/cpu first); tests/backends skips its tests without it.
        "torch": ["torch>=2.1"],
        "test": ["pytest>=7", "keras-cv>=0.9"] + EXAMPLES + JAX,
        "cv": ["keras-cv>=0.9"],
    },
    entry_points={
        "console_scripts": [
            "keras-resnet-paper-train=keras_resnet_paper.train:run",
            "keras-resnet-paper-reproduce=keras_resnet_paper.reproduce.command:run",
        ],
    },
    classifiers=[
        "License :: OSI Approved :: Apache Software License",
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
