"""Backbones (encoders) and heads for self-supervised learning."""

from sslcore.models.backbones import BACKBONES, Backbone, BackboneInfo, build_backbone
from sslcore.models.heads import PredictionHead, ProjectionHead
from sslcore.models.vit import VisionTransformer

__all__ = ["BACKBONES", "Backbone", "BackboneInfo", "PredictionHead", "ProjectionHead", "VisionTransformer",
           "build_backbone"]
