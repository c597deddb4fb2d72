"""Package data of the built-in saliency model (decoder weights + card)."""
