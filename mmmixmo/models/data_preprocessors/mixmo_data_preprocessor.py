"""Data pre-processor that builds the M member inputs of MixMo."""
from numbers import Integral, Number
from typing import List, Optional, Sequence, Tuple

import torch
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from mmmixmo.models.utils.box_masks import cutmix_box_masks

_PIXEL_MIX_TYPES = ('CutMix', 'Mixup')
_PIXEL_MIX_KEYS = ('type', 'alpha', 'prob')


@MODELS.register_module()
class MixMoDataPreprocessor(ClsDataPreprocessor):
    """Pre-processor producing the member inputs of MixMo.

    The images are first collated, converted and normalised exactly as by
    :class:`mmpretrain.models.ClsDataPreprocessor` (its ``forward`` is
    called). In training mode the batch of ``B`` slots is then turned into
    ``M`` member inputs per slot:

    - **Member pairing.** Member 0 sees a random permutation ``pi_0`` of the
      batch and every member ``i > 0`` an independent random permutation
      ``pi_i`` of the same batch, so slot ``j`` pairs the images
      ``pi_0(j), ..., pi_{M-1}(j)``. Combined with
      :class:`mmmixmo.datasets.samplers.BatchRepeatSampler` (each image
      repeated ``b`` times in the batch) every member sees every image of
      the batch exactly ``b`` times, with independently drawn partners.
    - **Input repetition.** With probability ``input_repetition_prob`` per
      slot, all members take member 0's image (and label). The MixMo recipes
      do not use it (default 0).
    - **Pixel mixing** (optional, the "+ CutMix" rows of the paper). For
      every member input of every slot, independently with probability
      ``prob``, a partner image is mixed in: ``lambda ~ Beta(alpha, alpha)``;
      ``CutMix`` pastes a box of the partner whose requested area is
      ``1 - lambda`` (drawn by
      :func:`mmmixmo.models.utils.cutmix_box_masks`, so the real area is the
      mask mean), ``Mixup`` blends ``lambda * own + (1 - lambda) * partner``.
      The authors draw the partner uniformly from the whole training set (in
      their dataset wrapper); here it is drawn uniformly, independently for
      every member input, from the slots of the current batch that hold
      another image than the member's own. "Another image" means another
      ``sample_idx`` (set by mmengine datasets and kept by ``PackInputs``),
      so with batch repetition the copies of the own image are excluded
      (otherwise a partner would be the own image with probability b / B);
      without ``sample_idx`` every slot counts as its own image. If no slot
      holds another image, the partner is any slot. Pixel mixing is applied
      after input repetition, per member, as in the authors' code where every
      member input goes through its own mixed-sample augmentation. Mixing is
      done on normalised images; since normalisation is affine per channel and
      the weights sum to 1, this equals mixing the raw images.

    The label targets (own share visible after the feature mask, floored at
    one half) are computed by the head from the fields set here.

    Args:
        num_members (int): Number of members ``M``, at least 2.
            Defaults to 2.
        input_repetition_prob (float): Probability, per slot, that all members
            see member 0's image. Defaults to 0.
        pixel_mix (dict, optional): Pixel-level mixing before MixMo, e.g.
            ``dict(type='CutMix', alpha=1.0, prob=0.5)`` or
            ``dict(type='Mixup', alpha=1.0, prob=0.5)``. ``alpha`` defaults to
            1.0 and ``prob`` to 0.5. Defaults to None (no pixel mixing).
        mean (Sequence[Number], optional): The pixel mean of the channels.
            Defaults to None.
        std (Sequence[Number], optional): The pixel standard deviation of the
            channels. Defaults to None.
        pad_size_divisor (int): The padded size is divisible by it.
            Defaults to 1.
        pad_value (Number): The padded pixel value. Defaults to 0.
        to_rgb (bool): Whether to convert images from BGR to RGB.
            Defaults to False.
        to_onehot (bool): Forwarded to :class:`ClsDataPreprocessor`; only
            affects test mode. Defaults to False.
        num_classes (int, optional): Forwarded to
            :class:`ClsDataPreprocessor`. Defaults to None.
        batch_augments (dict, optional): Must be None: mmpretrain's batch
            augmentations would mix images before member pairing and
            overwrite the labels; use ``pixel_mix`` instead.
    """

    def __init__(self,
                 num_members: int = 2,
                 input_repetition_prob: float = 0.0,
                 pixel_mix: Optional[dict] = None,
                 mean: Optional[Sequence[Number]] = None,
                 std: Optional[Sequence[Number]] = None,
                 pad_size_divisor: int = 1,
                 pad_value: Number = 0,
                 to_rgb: bool = False,
                 to_onehot: bool = False,
                 num_classes: Optional[int] = None,
                 batch_augments: Optional[dict] = None):
        if batch_augments is not None:
            raise ValueError(
                'model.data_preprocessor.batch_augments is not supported by '
                'MixMoDataPreprocessor (it would mix images before member '
                'pairing); use model.data_preprocessor.pixel_mix, e.g. '
                "dict(type='CutMix', alpha=1.0, prob=0.5), got "
                f'{batch_augments}')
        if (not isinstance(num_members, int) or isinstance(num_members, bool)
                or num_members < 2):
            raise ValueError('model.data_preprocessor.num_members must be an '
                             f'integer >= 2, got {num_members!r}')
        if (not isinstance(input_repetition_prob, Number)
                or not 0 <= input_repetition_prob <= 1):
            raise ValueError(
                'model.data_preprocessor.input_repetition_prob must be in '
                f'[0, 1], got {input_repetition_prob!r}')
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            to_rgb=to_rgb,
            to_onehot=to_onehot,
            num_classes=num_classes,
            batch_augments=None)
        self.num_members = num_members
        self.input_repetition_prob = float(input_repetition_prob)
        self.pixel_mix = self._check_pixel_mix(pixel_mix)

    @staticmethod
    def _check_pixel_mix(pixel_mix: Optional[dict]) -> Optional[dict]:
        """Validate ``pixel_mix`` and fill its defaults.

        Args:
            pixel_mix (dict, optional): The ``pixel_mix`` config.

        Returns:
            dict, optional: ``dict(type, alpha, prob)`` or None.
        """
        if pixel_mix is None:
            return None
        key = 'model.data_preprocessor.pixel_mix'
        if not isinstance(pixel_mix, dict):
            raise TypeError(f'{key} must be None or a dict, got {pixel_mix!r}')
        unknown = sorted(set(pixel_mix) - set(_PIXEL_MIX_KEYS))
        if unknown:
            raise ValueError(f'{key} has unknown keys {unknown}; allowed keys '
                             f'are {list(_PIXEL_MIX_KEYS)}')
        mix_type = pixel_mix.get('type')
        if mix_type not in _PIXEL_MIX_TYPES:
            raise ValueError(f'{key}.type must be one of '
                             f'{list(_PIXEL_MIX_TYPES)}, got {mix_type!r}')
        alpha = pixel_mix.get('alpha', 1.0)
        if (not isinstance(alpha, Number) or isinstance(alpha, bool)
                or not alpha > 0):
            raise ValueError(f'{key}.alpha must be > 0, got {alpha!r}')
        prob = pixel_mix.get('prob', 0.5)
        if (not isinstance(prob, Number) or isinstance(prob, bool)
                or not 0 <= prob <= 1):
            raise ValueError(f'{key}.prob must be in [0, 1], got {prob!r}')
        return dict(type=mix_type, alpha=float(alpha), prob=float(prob))

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise the batch and, in training, build the member inputs.

        Args:
            data (dict): Data from the dataloader, with ``inputs`` and
                ``data_samples`` (each training sample must carry a
                single-element ``gt_label``).
            training (bool): Whether in training mode. Defaults to False.

        Returns:
            dict: In test mode exactly the output of
            :class:`ClsDataPreprocessor` (``inputs`` of shape
            ``(B, C, H, W)``). In training mode ``inputs`` of shape
            ``(B, M, C, H, W)`` (``inputs[j, i]`` is member ``i``'s image in
            slot ``j``) and ``data_samples``, a list of ``B`` new
            :class:`DataSample` whose metainfo is copied from the sample of
            member 0's image, with fields ``member_gt_label`` (M, ) long,
            ``member_mix_label`` (M, ) long and ``member_pixel_mask``
            (M, h, w) float32, ``(h, w)`` being ``(H, W)`` for pixel CutMix
            and ``(1, 1)`` otherwise.
        """
        if not training:
            return super().forward(data, training=False)

        data_samples = data.get('data_samples', None)
        self._check_labels(data_samples)
        data = super().forward(data, training=True)
        inputs = data['inputs']
        data_samples = data['data_samples']
        if inputs.dim() != 4:
            raise ValueError('MixMoDataPreprocessor expects images of shape '
                             f'(C, H, W), got a batch of shape '
                             f'{tuple(inputs.shape)}')
        device = inputs.device
        labels = torch.cat([
            sample.gt_label.view(-1) for sample in data_samples
        ]).to(device).long()

        # drawn on the CPU: no device sync for the metainfo below
        pairing = self._pair_members(inputs.size(0))  # (M, B)
        image_idx = pairing.to(device, non_blocking=True)
        member_inputs = inputs[image_idx]  # (M, B, C, H, W)
        member_labels = labels[image_idx]  # (M, B)
        member_inputs, mix_labels, pixel_masks = self._pixel_mix(
            inputs, labels, member_inputs, member_labels,
            self._image_ids(data_samples), pairing)

        out_inputs = member_inputs.transpose(0, 1).contiguous()
        member_labels = member_labels.t().contiguous()
        mix_labels = mix_labels.t().contiguous()
        pixel_masks = pixel_masks.transpose(0, 1).contiguous()
        member0_idx = pairing[0].tolist()
        out_samples = []
        for slot, source in enumerate(member0_idx):
            sample = DataSample(metainfo=data_samples[source].metainfo)
            sample.set_field(member_labels[slot], 'member_gt_label')
            sample.set_field(mix_labels[slot], 'member_mix_label')
            sample.set_field(pixel_masks[slot], 'member_pixel_mask')
            out_samples.append(sample)
        return dict(inputs=out_inputs, data_samples=out_samples)

    def _check_labels(self,
                      data_samples: Optional[List[DataSample]]) -> None:
        """Check that every training sample has a single-element label.

        Runs on the labels as the dataloader gives them (on the CPU, before
        they are moved to the device), so it costs no device sync. When
        ``num_classes`` is set (``MixMoClassifier`` sets it to the head's),
        labels outside ``[0, num_classes)`` are rejected.

        Args:
            data_samples (list[DataSample], optional): The batch samples.
        """
        if not data_samples:
            raise ValueError(
                'MixMoDataPreprocessor needs `data_samples` with a `gt_label` '
                'in training; check that the train pipeline ends with '
                'PackInputs')
        for k, sample in enumerate(data_samples):
            label = getattr(sample, 'gt_label', None) \
                if isinstance(sample, DataSample) else None
            if label is None:
                raise ValueError(
                    f'MixMoDataPreprocessor: training sample {k} of the batch '
                    'has no `gt_label`; every training DataSample needs one '
                    '(check train_dataloader.dataset and its pipeline)')
            if label.numel() != 1:
                raise ValueError(
                    f'MixMoDataPreprocessor: training sample {k} has a '
                    f'gt_label with {label.numel()} elements; MixMo needs a '
                    'single class index per image')
            if self.num_classes is not None and not \
                    0 <= int(label) < self.num_classes:
                raise ValueError(
                    f'MixMoDataPreprocessor: training sample {k} has label '
                    f'{int(label)}, outside [0, {self.num_classes}) set by '
                    'model.head.num_classes / '
                    'model.data_preprocessor.num_classes')

    @staticmethod
    def _image_ids(data_samples: List[DataSample]) -> Tensor:
        """Which dataset image every slot holds, as far as it is known.

        Args:
            data_samples (list[DataSample]): The batch samples.

        Returns:
            Tensor: Long CPU tensor ``(B, )``: the ``sample_idx`` of the
            samples if all of them have one, else ``0, ..., B - 1`` (every
            slot its own image).
        """
        ids = [sample.metainfo.get('sample_idx') for sample in data_samples]
        if not all(isinstance(i, Integral) for i in ids):
            return torch.arange(len(data_samples))
        return torch.tensor(ids, dtype=torch.long)

    def _pair_members(self, batch_size: int) -> Tensor:
        """Draw which image of the batch every member sees in every slot.

        Args:
            batch_size (int): Number of slots ``B``.

        Returns:
            Tensor: Long CPU tensor of shape ``(M, B)``; row ``i`` is the
            permutation ``pi_i``, with member 0's image copied to all
            members in the slots drawn for input repetition.
        """
        keys = torch.rand(self.num_members, batch_size)
        image_idx = keys.argsort(dim=1)
        if self.input_repetition_prob > 0:
            repeat = torch.rand(batch_size) < self.input_repetition_prob
            image_idx = torch.where(
                repeat.unsqueeze(0), image_idx[:1], image_idx)
        return image_idx

    def _pixel_mix(self, inputs: Tensor, labels: Tensor, member_inputs: Tensor,
                   member_labels: Tensor, image_ids: Tensor,
                   pairing: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Mix a partner image of the batch into every member input.

        Args:
            inputs (Tensor): The normalised batch, ``(B, C, H, W)``.
            labels (Tensor): Its labels, ``(B, )``.
            member_inputs (Tensor): Member inputs, ``(M, B, C, H, W)``.
            member_labels (Tensor): Their labels, ``(M, B)``.
            image_ids (Tensor): Long CPU tensor ``(B, )``, the image id of
                every slot (see :meth:`_image_ids`).
            pairing (Tensor): Long CPU tensor ``(M, B)``, the slot whose
                image every member input is (see :meth:`_pair_members`).
                Partners are drawn among the slots holding another image id
                than the member input's own.

        Returns:
            tuple[Tensor, Tensor, Tensor]: The mixed member inputs
            ``(M, B, C, H, W)``, the partner labels ``(M, B)`` (own label
            where nothing was mixed) and the own-pixel share ``(M, B, h, w)``
            float32, with ``(h, w) = (H, W)`` for CutMix and ``(1, 1)``
            otherwise.
        """
        num_members, batch_size = member_labels.shape
        device = inputs.device
        if self.pixel_mix is None:
            masks = torch.ones(num_members, batch_size, 1, 1, device=device)
            return member_inputs, member_labels.clone(), masks

        # Drawn on the CPU like the pairing: uniform over the slots holding
        # another image (any slot where there is none).
        other = image_ids.view(1, 1, -1) != image_ids[pairing].unsqueeze(-1)
        other |= ~other.any(-1, keepdim=True)
        partner_idx = torch.multinomial(
            other.view(-1, batch_size).float(), 1).view(
                num_members, batch_size).to(device, non_blocking=True)
        applied = torch.rand(
            num_members, batch_size, device=device) < self.pixel_mix['prob']
        alpha = torch.tensor(self.pixel_mix['alpha'], device=device)
        lam = torch.distributions.Beta(alpha, alpha).sample(
            (num_members, batch_size)).float()
        height, width = inputs.shape[-2:]
        if self.pixel_mix['type'] == 'CutMix':
            boxes = cutmix_box_masks((1 - lam).flatten(), height, width)
            masks = 1 - boxes.view(num_members, batch_size, height, width)
        else:
            masks = lam.view(num_members, batch_size, 1, 1)
        masks = torch.where(
            applied.view(num_members, batch_size, 1, 1), masks,
            torch.ones_like(masks)).float()
        weights = masks.unsqueeze(2).to(member_inputs.dtype)
        mixed = weights * member_inputs + (1 - weights) * inputs[partner_idx]
        mix_labels = torch.where(applied, labels[partner_idx], member_labels)
        return mixed, mix_labels, masks
