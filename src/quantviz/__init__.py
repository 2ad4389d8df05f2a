"""quantviz: see what quantization does to a language model, then measure it on Ollama."""

__version__ = "0.1.0"
