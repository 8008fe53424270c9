"""Version of mmmixmo."""
__version__ = '0.1.0'
