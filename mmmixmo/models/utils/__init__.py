from .box_masks import cutmix_box_masks
from .folded_mixmo import FoldedMixMo, fold_mixmo
from .member_encoders import MemberEncoders
from .member_targets import member_soft_targets, visible_own_ratio
from .trunc_kaiming_init import TruncKaimingInit

__all__ = [
    'cutmix_box_masks', 'MemberEncoders', 'member_soft_targets',
    'visible_own_ratio', 'TruncKaimingInit', 'FoldedMixMo', 'fold_mixmo'
]
