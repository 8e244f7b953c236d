"""The losses of the pretraining methods, one module each."""

from sslcore.methods.losses.barlow_twins import BarlowTwinsLoss
from sslcore.methods.losses.infonce import InfoNCELoss
from sslcore.methods.losses.masked_mse import MaskedPatchMSELoss
from sslcore.methods.losses.negative_cosine import NegativeCosineSimilarity
from sslcore.methods.losses.ntxent import NTXentLoss

__all__ = ["BarlowTwinsLoss", "InfoNCELoss", "MaskedPatchMSELoss", "NTXentLoss", "NegativeCosineSimilarity"]
