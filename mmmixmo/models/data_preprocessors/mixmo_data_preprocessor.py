"""Data preprocessor that builds the M member inputs of MixMo."""
from numbers import Integral
from typing import Optional, Sequence, Tuple

import torch
from mmpretrain.models import ClsDataPreprocessor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample
from torch import Tensor

from ..utils.box_masks import cutmix_box_masks


@MODELS.register_module()
class MixMoDataPreprocessor(ClsDataPreprocessor):
    """Normalise like ``ClsDataPreprocessor``, then pair the members.

    In training, every image of the batch comes as M lists of b views
    (``MemberViews``, batch repetition b): member i's b x n views of the n
    images are its B = b x n inputs, and member i of slot j sees input
    ``pi_i(j)``, for M independent random permutations ``pi_i``: every
    member sees every image b times, each time in a view of its own, with
    independent partners. Optionally all members of a slot see member 0's
    image (input repetition, still in their own views; see
    :meth:`pair_members`), and each member
    input gets its own pixel CutMix or Mixup (the paper's "+ CutMix" rows)
    with a partner drawn among the member's inputs of another image (by
    ``sample_idx``); the authors draw it from the whole training set.
    Mixing normalised images equals mixing raw ones.

    Args:
        num_members (int): Number of members M. Defaults to 2.
        input_repetition_prob (float): Probability, per slot, that every
            member sees member 0's image (0.6 in MIMO's ImageNet recipe).
            Defaults to 0.
        pixel_mix (dict, optional): ``dict(type='CutMix' | 'Mixup',
            alpha=1.0, prob=0.5)``: per member input, with probability
            ``prob``, ``lambda ~ Beta(alpha, alpha)`` of the own image is
            kept. Defaults to None.
        **kwargs: Arguments of ``ClsDataPreprocessor`` (``mean``, ``std``,
            ``to_rgb``, ``num_classes``, ...), except ``batch_augments``.
    """

    def __init__(self,
                 num_members: int = 2,
                 input_repetition_prob: float = 0.0,
                 pixel_mix: Optional[dict] = None,
                 **kwargs) -> None:
        if kwargs.get('batch_augments') is not None:
            raise ValueError(
                'model.data_preprocessor.batch_augments would mix images '
                'before the member pairing: use model.data_preprocessor.'
                "pixel_mix=dict(type='CutMix', alpha=1.0, prob=0.5)")
        super().__init__(**kwargs)
        key = 'model.data_preprocessor'
        if not 0 <= input_repetition_prob <= 1:
            raise ValueError(f'{key}.input_repetition_prob must be in [0, 1]'
                             f', got {input_repetition_prob}')
        if pixel_mix is not None:
            pixel_mix = dict(dict(alpha=1.0, prob=0.5), **pixel_mix)
            if (set(pixel_mix) != {'type', 'alpha', 'prob'}
                    or pixel_mix['type'] not in ('CutMix', 'Mixup')
                    or not pixel_mix['alpha'] > 0
                    or not 0 <= pixel_mix['prob'] <= 1):
                raise ValueError(
                    f"{key}.pixel_mix must be dict(type='CutMix' or 'Mixup', "
                    f'alpha > 0, prob in [0, 1]), got {pixel_mix}')
            pixel_mix.update(alpha=float(pixel_mix['alpha']),
                             prob=float(pixel_mix['prob']))
        self.num_members = num_members
        self.input_repetition_prob = input_repetition_prob
        self.pixel_mix = pixel_mix

    @torch.compiler.disable
    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise the batch and, in training, build the member inputs.

        Note: eager under ``torch.compile`` (``compile=True`` compiles
        ``train_step``): the label check, the pairing and pixel-mix draws and
        the per-slot ``DataSample`` are host-side Python; the compiled
        network starts at the model's ``forward``.

        Args:
            data (dict): In training, ``inputs[i][r]`` is member i's r-th
                view of the n images: a list of n ``(C, H, W)`` tensors
                (``pseudo_collate``) or an ``(n, C, H, W)`` tensor
                (``default_collate``); one ``DataSample`` per image.

        Returns:
            dict: In test mode ``ClsDataPreprocessor``'s output. In training
            ``inputs`` ``(B, M, C, H, W)`` with ``B = b x n`` slots and one
            new ``DataSample`` per slot (metainfo of member 0's image) with
            ``member_gt_label`` ``(M, )``, ``member_mix_label`` ``(M, )``
            (the pixel-mix partner's label) and ``member_pixel_mask``
            ``(M, h, w)`` (the own-pixel share; ``(h, w)`` is ``(H, W)`` for
            CutMix, else ``(1, 1)``).
        """
        if not training:
            return super().forward(data, training)
        views, samples = data['inputs'], data['data_samples']
        if not (isinstance(views, Sequence) and views
                and isinstance(views[0], Sequence)):
            raise TypeError(
                'MixMo trains on M x b views of every image: wrap the '
                'augmentations of train_dataloader.dataset.pipeline in '
                "dict(type='MemberViews', num_repeats=b, num_members=M, "
                'transforms=[...]) (configs/mixmo/README.md)')
        if len(views) != self.num_members:
            raise ValueError(
                f'MemberViews.num_members={len(views)} in train_dataloader.'
                'dataset.pipeline does not match model.num_members='
                f'{self.num_members}')
        # checked on the CPU, before they move to the device
        labels = torch.cat([s.gt_label for s in samples]).long()
        if self.num_classes and not 0 <= labels.min() <= labels.max() < \
                self.num_classes:
            raise ValueError(
                f'training labels must be in [0, {self.num_classes}) '
                '(model.head.num_classes), got '
                f'[{labels.min()}, {labels.max()}]')
        num_images, num_repeats = len(samples), len(views[0])
        # (M x b x n, C, H, W): member-major, then repeat, then image; one
        # copy to the device per (member, repeat), concatenated there
        flat = torch.cat(self.cast_data([
            view if isinstance(view, Tensor) else torch.stack(view)
            for member in views for view in member
        ]))
        inputs = super().forward(
            dict(inputs=flat, data_samples=samples), training)['inputs']
        inputs = inputs.view(self.num_members, num_repeats * num_images,
                             *inputs.shape[1:])
        # input k of a member is a view of image k % n
        image_of = torch.arange(num_repeats * num_images) % num_images
        pairing = self.pair_members(len(image_of))  # (M, B), on the CPU
        device = inputs.device
        labels = labels[image_of].to(device)
        image_idx = pairing.to(device, non_blocking=True)
        members = torch.arange(self.num_members, device=device).unsqueeze(1)
        member_inputs = inputs[members, image_idx]
        member_labels = labels[image_idx]
        # the image of every input: its sample_idx, else its batch index
        ids = [s.metainfo.get('sample_idx') for s in samples]
        ids = torch.tensor(ids)[image_of] if all(
            isinstance(i, Integral) for i in ids) else image_of
        member_inputs, mix_labels, pixel_masks = self.mix_pixels(
            inputs, labels, member_inputs, member_labels, ids, pairing)
        member_inputs = member_inputs.transpose(0, 1).contiguous()
        out_samples = []
        for slot, source in enumerate(image_of[pairing[0]].tolist()):
            sample = DataSample(metainfo=samples[source].metainfo)
            sample.set_field(member_labels[:, slot], 'member_gt_label')
            sample.set_field(mix_labels[:, slot], 'member_mix_label')
            sample.set_field(pixel_masks[:, slot], 'member_pixel_mask')
            out_samples.append(sample)
        return dict(inputs=member_inputs, data_samples=out_samples)

    def pair_members(self, batch_size: int) -> Tensor:
        """Draw which of its B inputs every member sees in every slot.

        Args:
            batch_size (int): Number of slots B.

        Returns:
            Tensor: Long CPU tensor ``(M, B)``: M random permutations. With
            input repetition, the repeated slots (each with probability
            ``input_repetition_prob``) copy member 0's index to all members
            (each still sees its own view of that image) and the other
            members shuffle member 0's indices of the other slots: every
            member still sees each of its inputs once, as in
            uncertainty-baselines' MIMO.
        """
        image_idx = torch.rand(self.num_members, batch_size).argsort(dim=1)
        if self.input_repetition_prob > 0:
            repeat = torch.rand(batch_size) < self.input_repetition_prob
            free = (~repeat).nonzero().squeeze(1)
            order = torch.rand(self.num_members - 1, len(free)).argsort(dim=1)
            image_idx[1:] = image_idx[0]
            image_idx[1:, free] = image_idx[0, free][order]
        return image_idx

    def mix_pixels(self, inputs: Tensor, labels: Tensor,
                   member_inputs: Tensor, member_labels: Tensor,
                   ids: Tensor,
                   pairing: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Mix a partner input of the same member into every member input.

        Args:
            inputs (Tensor): Every member's normalised inputs
                ``(M, B, C, H, W)``, in input order.
            labels (Tensor): Their labels ``(B, )``.
            member_inputs (Tensor): Member inputs in slot order
                ``(M, B, C, H, W)``.
            member_labels (Tensor): Their labels ``(M, B)``.
            ids (Tensor): The image id of every input ``(B, )``.
            pairing (Tensor): The input each member sees in each slot
                ``(M, B)``.

        Returns:
            tuple[Tensor, Tensor, Tensor]: Mixed member inputs
            ``(M, B, C, H, W)``, partner labels ``(M, B)`` and float32
            own-pixel shares ``(M, B, h, w)``.
        """
        num_members, batch_size = member_labels.shape
        device = inputs.device
        if self.pixel_mix is None:
            masks = torch.ones(num_members, batch_size, 1, 1, device=device)
            return member_inputs, member_labels.clone(), masks
        # Partners uniform over the inputs of another image (not a view of
        # the own image), drawn on the CPU.
        other = ids.view(1, 1, -1) != ids[pairing].unsqueeze(-1)
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
        members = torch.arange(num_members, device=device).unsqueeze(1)
        partners = inputs[members, partner_idx]
        mixed = weights * member_inputs + (1 - weights) * partners
        mix_labels = torch.where(applied, labels[partner_idx], member_labels)
        return mixed, mix_labels, masks
