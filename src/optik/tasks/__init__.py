"""Task modules: pure functions on decoded images (prepare → forward → postprocess)."""
