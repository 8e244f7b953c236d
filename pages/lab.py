"""Lab: pick a dataset and a self-supervised method, see what the network sees, then pretrain and watch."""

import pandas as pd
import torch

torch.classes.__path__ = []  # keeps Streamlit's file watcher away from torch's lazy modules

import streamlit as st  # noqa: E402

from pages.common import run_label  # noqa: E402
from sslcore.augment import PRESETS as AUGMENT_PRESETS  # noqa: E402
from sslcore.augment import AugmentConfig, preview_views  # noqa: E402
from sslcore.data import dataset_choices, load_dataset  # noqa: E402
from sslcore.data.samples import displayable, samples_per_class  # noqa: E402
from sslcore.data.uploads import UPLOAD_LIMIT_MB, save_upload, uploaded_datasets  # noqa: E402
from sslcore.evaluate.vocabulary import FRACTION_CHOICES, PROTOCOLS  # noqa: E402
from sslcore.experiments.config import EvaluationConfig, ExperimentConfig  # noqa: E402
from sslcore.experiments.estimate import estimate_pretraining, format_duration  # noqa: E402
from sslcore.experiments.presets import PRESETS, preset  # noqa: E402
from sslcore.methods import METHODS  # noqa: E402
from sslcore.methods.diagram import method_diagram  # noqa: E402
from sslcore.runs import RunStore, ensure_worker  # noqa: E402
from sslcore.runs.live import live_progress  # noqa: E402
from sslcore.training.config import PretrainConfig  # noqa: E402


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def cached_dataset(spec: str):
    return load_dataset(spec)


st.title("Lab")
st.caption("Pretrain a network on unlabelled images with a self-supervised method, then measure how far a "
           "few labels go on top of it.")
store = RunStore()

# --- 1. Data ---------------------------------------------------------------------------------
st.header("1. Data")
source = st.radio("Images", ["Built-in or downloaded", "Upload a MedMNIST .npz", "An image folder"],
                  horizontal=True)
spec = None
if source == "Built-in or downloaded":
    choices = dataset_choices()
    spec = st.selectbox("Dataset", list(choices), format_func=choices.get)
    st.caption("Other MedMNIST datasets: `python -m sslcore datasets download pneumoniamnist --size 28` "
               "(or put the .npz file in the folder the command names when offline).")
elif source == "Upload a MedMNIST .npz":
    upload = st.file_uploader("MedMNIST-layout .npz (train/val/test _images and _labels)", type=["npz"],
                              max_upload_size=UPLOAD_LIMIT_MB)
    if upload is not None:
        try:
            save_upload(upload.name, upload.getvalue())
        except ValueError as error:
            st.error("This file cannot be used:")
            st.text(str(error))
    uploads = {str(path): path.name for path in uploaded_datasets()}
    spec = st.selectbox("Uploaded dataset", list(uploads), format_func=uploads.get) if uploads else None
else:
    spec = st.text_input("Folder with one sub-folder of images per class (optionally train/val/test first)") or None
if spec is None:
    st.stop()
try:
    dataset = cached_dataset(spec)
except (ValueError, OSError) as error:
    st.error("The dataset could not be loaded:")
    st.text(str(error))
    st.stop()

st.text(dataset.description)
st.caption(f"{dataset.task} · {dataset.n_classes} classes · {dataset.channels} channel(s) · "
           f"{dataset.image_size}×{dataset.image_size} px · licence: {dataset.licence}")
samples_column, balance_column = st.columns([3, 2])
with samples_column:
    train = dataset.splits["train"]
    for class_index, indices in samples_per_class(train.labels, per_class=6).items():
        st.text(dataset.label_names[class_index])
        st.image(list(displayable(train.images[indices])), width=72)
with balance_column:
    st.dataframe(pd.DataFrame({name: split.class_counts(dataset.n_classes) for name, split in dataset.splits.items()},
                              index=pd.Index(dataset.label_names, name="class")))
    st.caption("Images per class in each split.")

# --- 2. Method -------------------------------------------------------------------------------
st.header("2. Method")
method_name = st.selectbox("Self-supervised method", list(METHODS), format_func=lambda name: METHODS[name].title)
method = METHODS[method_name]
explanation, diagram = st.columns([2, 3])
explanation.markdown(f"**Strategy:** {method.strategy}")
explanation.write(method.explanation)
explanation.caption(method.citation)
diagram.graphviz_chart(method_diagram(method.strategy, same_patient=method.needs_partner,
                                          supervised=method.needs_labels))

# --- 3. Settings -----------------------------------------------------------------------------
st.header("3. Settings")
preset_name = st.selectbox("Preset", list(PRESETS), format_func=lambda name: PRESETS[name].title)
st.caption(PRESETS[preset_name].description)
base = preset(preset_name, spec, method=method_name)
defaults, evaluation = base.pretrain, base.evaluation
key = f"{preset_name}-{method_name}"  # a new preset or method resets the fields below to its values
with st.expander("Advanced settings"):
    left, middle, right = st.columns(3)
    backbones = list(method.backbones)
    backbone = left.selectbox("Backbone", backbones, key=f"{key}-backbone",
                              index=backbones.index(defaults.backbone) if defaults.backbone in backbones else 0)
    image_size = left.number_input("Image size (px)", 8, 512, defaults.image_size, step=4, key=f"{key}-size")
    epochs = left.number_input("Epochs", 1, 1000, defaults.epochs, key=f"{key}-epochs")
    batch_size = middle.number_input("Batch size", 2, 4096, defaults.batch_size, key=f"{key}-batch")
    lr = middle.number_input("Learning rate", 1e-6, 1.0, defaults.lr, format="%.0e", key=f"{key}-lr")
    temperature = middle.number_input("Temperature", 0.01, 2.0, defaults.temperature, key=f"{key}-temperature",
                                      disabled="temperature" not in method.hparams,
                                      help="Sharpness of the contrastive softmax; contrastive methods only.")
    max_train_images = middle.number_input("Training images (0: all)", 0, 10_000_000,
                                           defaults.max_train_images or 0, key=f"{key}-max-images")
    augment_name = right.selectbox("Augmentations", AUGMENT_PRESETS, key=f"{key}-augment",
                                   index=AUGMENT_PRESETS.index(defaults.augment))
    strength = right.slider("Augmentation strength", 0.0, 2.0, defaults.augment_strength, 0.1, key=f"{key}-strength")
    fractions = right.multiselect("Label fractions", sorted({*FRACTION_CHOICES, *evaluation.fractions}),
                                  default=list(evaluation.fractions), format_func="{:.0%}".format,
                                  key=f"{key}-fractions")
    n_seeds = right.number_input("Seeds per fraction", 1, 10, len(evaluation.seeds), key=f"{key}-seeds")
    protocols = right.multiselect("Protocols", PROTOCOLS, default=list(evaluation.protocols), key=f"{key}-protocols")
try:
    config = ExperimentConfig(
        PretrainConfig(**{**defaults.to_dict(), "backbone": backbone, "image_size": int(image_size),
                          "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr),
                          "temperature": float(temperature), "augment": augment_name, "augment_strength": strength,
                          "max_train_images": int(max_train_images) or None}),
        EvaluationConfig(**{**evaluation.to_dict(), "fractions": sorted(fractions), "seeds": list(range(n_seeds)),
                            "protocols": protocols}))
except ValueError as error:
    st.error("These settings cannot run:")
    st.text(str(error))
    st.stop()

# --- 4. What the network sees ----------------------------------------------------------------
st.header("4. Augmented views")
st.caption("Pretraining learns to recognise each image across views like these; too strong and the views stop "
           "looking like the same anatomy, too weak and the task is trivial.")
preview_seed = st.number_input("Preview seed", 0, 10_000, 0)
picked = [indices[0] for indices in samples_per_class(train.labels, per_class=1, seed=preview_seed).values()
          if indices][:4]
views = preview_views(train.images[picked], AugmentConfig.preset(augment_name, strength), n_views=5, seed=preview_seed)
for sample, sample_views in zip(picked, views):
    st.image([displayable(train.images[sample:sample + 1])[0], *displayable(sample_views)], width=72,
             caption=["original"] + [f"view {i + 1}" for i in range(len(sample_views))])

# --- 5. Run ----------------------------------------------------------------------------------
st.header("5. Run")
with st.spinner("Timing a few training steps on this machine…"):
    estimate = estimate_pretraining(config.pretrain, dataset)
st.write(f"Estimated pretraining time on **{estimate['device']}**: about {format_duration(estimate['seconds'])} "
         f"({estimate['images']:,} images at {estimate['images_per_second']:,.0f} images/s, measured on a few "
         f"steps here). The evaluation ({len(config.evaluation.protocols)} protocol(s) × "
         f"{len(config.evaluation.fractions)} fractions × {len(config.evaluation.seeds)} seed(s), with baselines) "
         f"comes after it.")
run_name = st.text_input("Run name", f"{method_name} on {dataset.name}")
if st.button("Start", type="primary"):
    st.session_state["lab_run"] = store.create_run("experiment", config.to_dict(), name=run_name)
    ensure_worker()


@st.fragment(run_every=2)
def live_view(run_id: int) -> None:
    """The run as it goes: progress, loss, speed, kNN accuracy, device and log; polled from the store."""
    run = store.get(run_id)
    st.text(f"{run_label(run, details=False)}: {run.status}" + (f" on {run.device}" if run.device else ""))
    progress = live_progress(store.metrics(run_id))
    if run.status in ("queued", "running"):
        if progress["fraction"] >= 1.0:  # pretraining done: the label-efficiency sweep is running
            st.progress(1.0, text=f"pretraining done; evaluating: {len(store.points(run_id))} points measured")
        else:
            st.progress(progress["fraction"], text=f"pretraining, ETA {format_duration(progress['eta_seconds'])}"
                        if progress["eta_seconds"] is not None else "waiting for the first step")
        if st.button("Cancel", key=f"cancel-{run_id}"):
            store.request_cancel(run_id)
    speed, knn, loss = st.columns(3)
    speed.metric("Images / s", f"{progress['images_per_second']:,.0f}" if progress["images_per_second"] else "–")
    knn.metric("Online kNN accuracy", f"{progress['knn_accuracy']:.3f}" if progress["knn_accuracy"] is not None else "–")
    loss.metric("Loss", f"{progress['loss']:.4f}" if progress["loss"] is not None else "–")
    if not progress["curve"].empty:
        st.line_chart(progress["curve"], x="step", y="loss", height=220)
    if run.error:
        st.error("The run stopped with an error:")
        st.code(run.error, language=None)
    st.code("\n".join(line["message"] for line in store.logs(run_id, tail=15)) or "(no log yet)", language=None)
    if run.status == "succeeded":
        st.page_link("pages/results.py", label="See its label-efficiency curve", icon=":material/show_chart:")
        st.page_link("pages/embeddings.py", label="See its embeddings", icon=":material/scatter_plot:")


latest = st.session_state.get("lab_run") or next(
    (run.id for run in store.list_runs() if run.status in ("queued", "running")), None)
if latest is not None:
    live_view(latest)
