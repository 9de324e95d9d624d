"""jaxclust: deep clustering with autoencoders in JAX."""
__version__ = "0.1.0"
