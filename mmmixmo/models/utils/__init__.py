from .box_masks import cutmix_box_masks
from .ensemble_average import AVERAGES, ensemble_average
from .member_encoders import (EncoderSlot, MemberEncoders, find_encoder_layer,
                              fold_members, unfold_members)
from .member_loss import member_loss_weights, member_soft_targets
from .post_hoc_calibration import PostHocCalibration, build_calibration
from .trunc_kaiming_init import TruncKaimingInit

__all__ = [
    'AVERAGES', 'cutmix_box_masks', 'EncoderSlot', 'ensemble_average',
    'find_encoder_layer', 'fold_members', 'MemberEncoders',
    'member_loss_weights', 'member_soft_targets', 'PostHocCalibration',
    'build_calibration', 'TruncKaimingInit',
    'unfold_members'
]
