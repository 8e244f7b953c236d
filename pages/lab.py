"""Lab: pick a dataset and a self-supervised method, see what the network sees, then pretrain and watch."""

import functools

import pandas as pd
import torch

torch.classes.__path__ = []  # keeps Streamlit's file watcher away from torch's lazy modules

import streamlit as st  # noqa: E402

from pages.common import (queue_experiment, queue_limits, run_label, save_session_upload,  # noqa: E402
                          server_paths_allowed, session_owner, session_uploads, show_error, visible_runs)
from sslcore.augment import PRESETS as AUGMENT_PRESETS  # noqa: E402
from sslcore.augment import AugmentConfig, preview_views  # noqa: E402
from sslcore.data import dataset_choices, load_dataset  # noqa: E402
from sslcore.data.samples import displayable, samples_per_class  # noqa: E402
from sslcore.data.uploads import UPLOAD_LIMIT_MB  # noqa: E402
from sslcore.evaluate.vocabulary import FRACTION_CHOICES, PROTOCOLS  # noqa: E402
from sslcore.experiments.comparison import Arm, ComparisonConfig, remedis  # noqa: E402
from sslcore.experiments.config import EvaluationConfig, ExperimentConfig, validate_experiment  # noqa: E402
from sslcore.experiments.estimate import describe_estimate, estimate_experiment, format_duration  # noqa: E402
from sslcore.experiments.presets import PRESETS, preset  # noqa: E402
from sslcore.methods import METHODS  # noqa: E402
from sslcore.methods.diagram import method_diagram  # noqa: E402
from sslcore.runs import RunStore, ensure_worker  # noqa: E402
from sslcore.experiments.runner import expected_points  # noqa: E402
from sslcore.runs.comparisons import create_comparison  # noqa: E402
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
sources = ["Built-in or downloaded", "Upload a MedMNIST .npz"]
if server_paths_allowed():  # a folder on the server: not for a class sharing the machine
    sources.append("An image folder")
source = st.radio("Images", sources, horizontal=True)
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
            save_session_upload(upload)
        except (ValueError, OSError) as error:
            show_error(error, "saving an upload")
    uploads = session_uploads()
    spec = st.selectbox("Uploaded dataset", list(uploads), format_func=uploads.get) if uploads else None
else:
    spec = st.text_input("Folder with one sub-folder of images per class (optionally train/val/test first)") or None
if spec is None:
    st.stop()
try:
    dataset = cached_dataset(spec)
except Exception as error:  # a bad file or folder: one sentence, the traceback in the server log
    st.error("The dataset could not be loaded.")
    show_error(error, "loading a dataset")
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
st.caption(PRESETS[preset_name].describe(method_name))
duration_line = st.empty()  # filled once the settings below are known
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
    config = validate_experiment(config.to_dict(), dataset=dataset)
except ValueError as error:
    st.error("These settings cannot run:")
    st.text(str(error))
    st.stop()


# sslcore keeps each successful timing for the server's lifetime (a failed one is tried again), so a
# rerun that changes no setting, or only the scale of the run, times nothing.
with st.spinner("Timing a few steps of each kind on this machine…"):
    estimate = estimate_experiment(config, dataset)
if estimate["error"] is None:
    duration_line.caption(f"With these settings, {METHODS[method_name].title} takes about "
                          f"{format_duration(estimate['total_seconds'])} on {estimate['device']} here "
                          f"(measured on a few steps; details under Run).")

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
ACTIVE = ("queued", "running")


@st.fragment(run_every=2)
def live_view(run_id: int, was_active: bool) -> None:
    """The run as it goes: progress, loss, speed, kNN accuracy against the random network's, device and
    log; polled from the store. When the run ends, the whole page reruns once so that Start comes back."""
    try:
        run = store.get(run_id)
    except ValueError:
        st.info(f"Run #{run_id} no longer exists: it was deleted.")
        return
    if was_active and run.status not in ACTIVE:
        st.rerun(scope="app")
    st.text(f"{run_label(run, details=False)}: {run.state}" + (f" on {run.device}" if run.device else ""))
    progress = live_progress(store.metrics(run_id))
    if run.status in ACTIVE:
        if progress["fraction"] >= 1.0:  # pretraining done: the label-efficiency sweep is running
            expected = expected_points(ExperimentConfig.from_dict(run.config))
            measured = len(store.points(run_id))
            st.progress(min(1.0, measured / expected),
                        text=f"pretraining done; evaluating: {measured} of {expected} points measured")
        else:
            st.progress(progress["fraction"], text=f"pretraining, ETA {format_duration(progress['eta_seconds'])}"
                        if progress["eta_seconds"] is not None else "waiting for the first step")
        if st.button("Cancel", key=f"cancel-{run_id}"):
            store.request_cancel(run_id)
    speed, knn, loss = st.columns(3)
    speed.metric("Images / s", f"{progress['images_per_second']:,.0f}" if progress["images_per_second"] else "–")
    knn_delta = (None if progress["knn_accuracy"] is None or progress["knn_initial"] is None
                 else f"{progress['knn_accuracy'] - progress['knn_initial']:+.3f} vs random weights")
    knn.metric("Online kNN accuracy", f"{progress['knn_accuracy']:.3f}" if progress["knn_accuracy"] is not None else "–",
               delta=knn_delta, help="Validation images classified by their nearest training images in feature "
                                     "space; compared with the same network before pretraining.")
    loss.metric("Loss", f"{progress['loss']:.4f}" if progress["loss"] is not None else "–")
    if progress["learning"] is False:
        st.warning(f"Not learning yet: the online kNN accuracy ({progress['knn_accuracy']:.3f}) is not above the "
                   f"random network's ({progress['knn_initial']:.3f}). If it stays so, this run will have learned "
                   "nothing the probes can use; the Results page says so and lists likely causes.")
    if not progress["curve"].empty:
        st.line_chart(progress["curve"], x="step", y="loss", height=220)
    if run.error:
        st.error(f"The run stopped: {run.error.strip().splitlines()[-1]}")
    st.code("\n".join(line["message"] for line in store.logs(run_id, tail=15)) or "(no log yet)", language=None)
    if run.status == "succeeded":
        st.page_link("pages/results.py", label="See its label-efficiency curve", icon=":material/show_chart:")
        st.page_link("pages/embeddings.py", label="See its embeddings", icon=":material/scatter_plot:")


st.header("5. Run")
own = st.session_state.get("lab_run")
active_runs = [run.id for run in visible_runs(store) if run.status in ACTIVE]
latest = own or next(iter(active_runs), None)
# Start waits for this session's run (in classroom mode, every visible run is the session's own).
own_active = latest in active_runs and (latest == own or session_owner() is not None)
if latest is not None:
    live_view(latest, latest in active_runs)
st.write(describe_estimate(estimate))
run_name = st.text_input("Run name", f"{method_name} on {dataset.name}")
if st.button("Start", type="primary", disabled=own_active,
             help="One run at a time per session: wait for this one or cancel it." if own_active else None):
    try:
        st.session_state["lab_run"] = queue_experiment(store, config.to_dict(), run_name, dataset=dataset)
    except ValueError as error:  # a queue limit, or a dataset this session may not use
        show_error(error, "queueing a run")
    else:
        st.rerun()

# --- 6. Compare ------------------------------------------------------------------------------
st.header("6. Compare methods")
st.caption("Several methods (or initialisations) on this dataset as one comparison: each arm is a run with its own "
           "method's recipe under the chosen preset, and every arm shares the data seed, labelled subsets, "
           "evaluation seeds, label fractions and protocols chosen above, so their differences are paired. "
           "The leaderboard is on the Comparisons page.")
ssl_methods = [name for name in METHODS if not METHODS[name].needs_labels]
left, right = st.columns([3, 2])
compared = left.multiselect("Methods", ssl_methods, default=[method_name] if method_name in ssl_methods else [],
                            format_func=lambda name: METHODS[name].title, key="compare_methods")
INITS = {"random": "random weights", "imagenet": "ImageNet weights (ResNet only)"}
init = right.selectbox("Start each backbone from", list(INITS), format_func=INITS.get, key="compare_init")
with_init_only = right.checkbox("Also the initialisation fine-tuned without pretraining", value=init != "random",
                                key="compare_init_only")
shared = {"preset": preset_name, "data_seed": config.pretrain.data_seed, "seed": config.pretrain.seed,
          "evaluation": {"fractions": list(config.evaluation.fractions), "seeds": list(config.evaluation.seeds),
                         "protocols": list(config.evaluation.protocols)}}
# What you changed of the scale (epochs, training images) applies to every arm; the rest is each method's recipe.
scale = {name: getattr(config.pretrain, name) for name in ("epochs", "max_train_images")
         if getattr(config.pretrain, name) != getattr(defaults, name)}
if scale:
    shared["overrides"] = scale
    st.caption("Your changes to " + " and ".join(name.replace("_", " ") for name in scale)
               + " apply to every arm; everything else follows each method's recipe.")
compare_button, remedis_button = st.columns(2)
make_comparison = None
if compare_button.button("Queue the comparison", disabled=not compared):
    arms = [Arm(name, init) for name in compared] + ([Arm(None, init)] if with_init_only else [])
    make_comparison = functools.partial(ComparisonConfig, dataset=spec, arms=arms, **shared)
if remedis_button.button("Queue the REMEDIS recipe", help="From scratch; ImageNet weights fine-tuned; SSL from "
                         "random weights; ImageNet weights then in-domain SSL (MICLe where patients have several "
                         "images, SimCLR otherwise). See the Learn page."):
    make_comparison = functools.partial(remedis, spec, has_patients=dataset.has_multi_image_patients(), **shared)
if make_comparison is not None:
    try:
        comparison_id = create_comparison(store, make_comparison(), owner=session_owner(), limits=queue_limits())
        ensure_worker(store.path)
    except ValueError as error:
        show_error(error, "queueing a comparison")
    else:
        st.success(f"Comparison #{comparison_id} queued; its arms run one after the other.")
        st.page_link("pages/compare.py", label="Follow it on the Comparisons page", icon=":material/leaderboard:")
