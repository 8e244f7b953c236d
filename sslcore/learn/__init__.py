"""What the Learn page computes, so that every picture it draws comes from tested code.

The page teaches self-supervised learning (SSL) with the project's own data and models: the views
each method makes from an image (``views``), the similarity matrix a contrastive loss acts on, the
same-patient pairs of MICLe (``teaching``), a masked autoencoder's reconstructions (``mae_demo``),
rotation predictions (``rotation_demo``), the strategies of the reviews and the page's words
(``overview``, ``content.yaml``), and a label-efficiency curve. Training those models takes minutes,
so ``python -m sslcore learn build-assets`` trains them once and ships them (``assets``).

Names are imported on first use (``sslcore.learn.X``), so the CLI registers ``learn`` without torch.
"""

from sslcore import lazy_exports

_EXPORTS = {
    "teaching": ("TEACHING_IMAGES", "TEACHING_SEED", "class_members", "other_images_of_patient",
                 "same_patient_pairs", "teaching_dataset"),
    "views": ("ANGLES", "HIDDEN_COLOUR", "TWO_VIEW_METHODS", "VIEW_METHODS", "Similarity", "Views",
              "contrastive_encoder", "patch_mask", "recognition_sentence", "show_hidden", "similarity_figure",
              "similarity_matrix",
              "views_by_method"),
    "mae_demo": ("MAEArchitecture", "MAERecipe", "Reconstruction", "reconstruct", "train_mae", "unit_range"),
    "rotation_demo": ("RotationGuesses", "guess_rotations"),
    "overview": ("PIPELINE_DIAGRAM", "StrategyOverview", "catalogue_link", "content", "curve_story",
                 "pretraining_curves", "strategy_overview"),
    "assets": ("ASSETS_DIR", "BUILD_COMMAND", "CURVE_FILE", "MAE_FILE", "MANIFEST_FILE", "ROTATION_FILE", "SIMCLR_FILE",
               "AssetRecipe", "LearnAssets", "build_assets", "load_assets",
               "load_manifest", "provenance"),
}
_WHERE = {name: f"sslcore.learn.{module}" for module, names in _EXPORTS.items() for name in names}
__getattr__, __all__ = lazy_exports(__name__, _WHERE)
