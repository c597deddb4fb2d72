"""Analyses of saliency models: evaluation, neuron analysis, representation comparison.

Import the sub-modules directly (``salscope.analysis.neurons.region_nss`` …); this
package imports nothing eagerly so that each analysis stays cheap to load.
"""
