"""salscope: build deep visual saliency models and open them up.

Implements He, Tavakoli, Borji, Mi & Pugeault, *Understanding and Visualizing
Deep Visual Saliency Models*, CVPR 2019, as a toolkit: data loaders, metrics in
the Tübingen and MIT conventions, classical and deep saliency models, neuron
analysis (region-based NSS, Network Dissection), representation comparison
(CKA), pop-out search arrays, and an end-to-end study with an HTML report.
"""

from salscope.errors import SalscopeError

__version__ = "0.1.0"
__all__ = ["SalscopeError", "__version__"]
