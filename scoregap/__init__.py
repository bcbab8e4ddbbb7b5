"""scoregap: why does your score differ from the reported one?"""

__version__ = "0.1.0"
