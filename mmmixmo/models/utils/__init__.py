from .box_masks import cutmix_box_masks
from .member_encoders import MemberEncoders
from .member_targets import member_soft_targets
from .trunc_kaiming_init import TruncKaimingInit

__all__ = [
    'cutmix_box_masks', 'MemberEncoders', 'member_soft_targets',
    'TruncKaimingInit'
]
