"""Shared fixtures of the classical-model tests: the MATLAB reference maps and their OSIE images."""

from __future__ import annotations

import numpy as np
import pytest

#: The OSIE images the reference maps in ../shared/reference/classical/ were made from.
REFERENCE_IDS = ("1001", "1023", "1050", "1100")


@pytest.fixture(scope="session")
def matlab_maps(reference_root):
    """matlab_maps.npz: the originals' maps under Octave (gbvs_, ittikoch_, signature_, spectral_residual_<id>)."""
    return np.load(reference_root / "classical" / "matlab_maps.npz")


@pytest.fixture(scope="session")
def osie_images(data_root):
    """The reference images as H×W×3 uint8, keyed by id ("1001", ...)."""
    from salscope.data.stimuli import load_image

    return {i: load_image(data_root / "osie" / "stimuli" / f"{i}.jpg") for i in REFERENCE_IDS}
