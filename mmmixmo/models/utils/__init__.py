from .box_masks import cutmix_box_masks
from .ensemble_average import AVERAGES, ensemble_average
from .member_encoders import MemberEncoders, fold_members
from .member_loss import member_loss_weights, member_soft_targets
from .trunc_kaiming_init import TruncKaimingInit

__all__ = [
    'AVERAGES', 'cutmix_box_masks', 'ensemble_average', 'fold_members',
    'MemberEncoders', 'member_loss_weights', 'member_soft_targets',
    'TruncKaimingInit'
]
