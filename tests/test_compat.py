"""The private Keras APIs of keras_resnet_paper.compat still exist in the installed Keras."""

import warnings

import keras
import pytest

from keras_resnet_paper import compat


@pytest.mark.parametrize("owner, name, why", compat.PRIVATE_APIS, ids=[a[1] for a in compat.PRIVATE_APIS])
def test_private_api_still_exists(owner, name, why):
    if not hasattr(owner, name):
        pytest.fail(
            f"Keras {keras.__version__} has no {owner.__name__}.{name}, which keras_resnet_paper.compat uses to {why}; "
            f"compat.py was checked with Keras {', '.join(compat.CHECKED_KERAS_VERSIONS)}. Find the new way and "
            "update compat.py.",
            pytrace=False,
        )


def test_snake_case_is_keras_own():
    assert compat.to_snake_case("ZeroPaddingShortcut") == "zero_padding_shortcut"
    assert compat.to_snake_case("BatchNormalization") == "batch_normalization"


def test_checked_keras_version_is_named():
    if keras.__version__ not in compat.CHECKED_KERAS_VERSIONS:
        warnings.warn(
            f"keras_resnet_paper.compat was checked with Keras {compat.CHECKED_KERAS_VERSIONS}, "
            f"not {keras.__version__}: its private-API tests above passed; add the version once the "
            "training tests pass too.",
            stacklevel=1,
        )
    assert all(v.count(".") == 2 for v in compat.CHECKED_KERAS_VERSIONS)


def test_only_compat_touches_private_keras():
    """No other module of the package reaches into keras.src or Keras' private methods."""
    import pathlib
    import re

    root = pathlib.Path(compat.__file__).parent
    private = re.compile(
        r"keras\.src|\._symbolic_build|\._maybe_symbolic_build|\._track_variable|_get_current_learning_rate"
    )
    offenders = [
        str(p.relative_to(root)) for p in root.rglob("*.py") if p.name != "compat.py" and private.search(p.read_text())
    ]
    assert not offenders, offenders
