"""Quantization arithmetic, numpy in and numpy out: the seed's absmax formula, schemes, floats,
bit packing, llama.cpp's GGUF block types and its recipes, and the lab model's tensor layout."""
