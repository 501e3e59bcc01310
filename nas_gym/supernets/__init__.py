"""Torch weight-sharing supernets and evaluation networks (import torch only when used)."""
