"""Write a small fake SVHN in the layout of the official ``.mat`` files; load
it with ``dict(type='SVHN', data_root=...)``."""
import os
import os.path as osp

import numpy as np
from scipy.io import savemat


def make_fake_svhn(data_root: str,
                   num_test: int = 20,
                   num_train: int = 30,
                   num_extra: int = 0,
                   seed: int = 0) -> str:
    """Write ``{split}_32x32.mat`` files; returns ``data_root``.

    Each holds ``X`` ``(32, 32, 3, N)`` uniform-noise uint8 and ``y``
    ``(N, 1)`` uint8: labels cycle over 1..10 (10 is the digit 0), shuffled.
    A split with no image (``num_extra=0`` by default) is not written.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(data_root, exist_ok=True)
    for split, num in (('train', num_train), ('test', num_test),
                       ('extra', num_extra)):
        if num == 0:
            continue
        images = rng.integers(0, 256, (32, 32, 3, num), dtype=np.uint8)
        labels = rng.permutation(np.arange(num) % 10 + 1).astype(np.uint8)
        savemat(
            osp.join(data_root, f'{split}_32x32.mat'),
            dict(X=images, y=labels[:, None]))
    return data_root
