from .multi_head_cls_head import MultiHeadClsHead

__all__ = ['MultiHeadClsHead']
