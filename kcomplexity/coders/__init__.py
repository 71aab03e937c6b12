"""Coders: streams -> bits. Compressors give decodable upper bounds; entropy and BDM give estimates."""
from .base import Coded, Coder, parse_level
from .compressors import COMPRESSORS, Compressor
from .entropy import Entropy

__all__ = ["Coded", "Coder", "Compressor", "COMPRESSORS", "Entropy", "parse_level"]
