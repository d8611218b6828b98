"""The demo clinic: a realistic, deterministic input folder with every messy case."""

from pipelines.demo.generator import write_demo

__all__ = ["write_demo"]
