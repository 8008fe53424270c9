from .mixmo_data_preprocessor import MixMoDataPreprocessor

__all__ = ['MixMoDataPreprocessor']
