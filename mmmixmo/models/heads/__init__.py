from .multi_head_cls_head import MultiHeadClsHead, member_loss_weights

__all__ = ['MultiHeadClsHead', 'member_loss_weights']
