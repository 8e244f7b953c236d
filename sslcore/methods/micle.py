"""MICLe: SimCLR whose positive pairs are two different images of the same patient.

Azizi, Mustafa, Ryan, Beaver, Freyberg, Deaton, Loh, Karthikesalingam, Kornblith, Chen, Natarajan
& Norouzi (2021), "Big Self-Supervised Models Advance Medical Image Classification", ICCV,
arXiv:2101.05224.
"""

from __future__ import annotations

import torch

from sslcore.methods.base import Batch, Citation, MethodInfo
from sslcore.methods.simclr import SimCLR


class MICLe(SimCLR):
    """Multi-Instance Contrastive Learning: the two views are augmentations of ``batch.images`` and
    of ``batch.partner_images`` (another image of the same patient, or the same image when the
    patient has only one, which falls back to SimCLR for that pair). Same arguments as SimCLR.
    """

    name = "micle"
    needs_partner = True

    def view_sources(self, batch: Batch) -> torch.Tensor:
        return torch.cat([batch.images, batch.partner_images])


INFO = MethodInfo(
    name="micle",
    title="MICLe (multi-instance SimCLR)",
    strategy="contrastive",
    citation=Citation("Azizi et al.", 2021, "Big Self-Supervised Models Advance Medical Image Classification",
                      "ICCV", "2101.05224"),
    explanation="Like SimCLR, but the pair the network must match is two different images of the same patient "
                "(for example two views of the same skin lesion), each randomly altered. It learns what stays "
                "the same about a patient's condition across acquisitions; patients with a single image fall "
                "back to two altered copies of that image.",
    method_class=MICLe,
)
