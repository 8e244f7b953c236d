"""Learn: self-supervised learning explained to clinicians with the project's own images and models."""

import pandas as pd
import torch

torch.classes.__path__ = []  # keeps Streamlit's file watcher away from torch's lazy modules

import streamlit as st  # noqa: E402

from sslcore import learn  # noqa: E402
from sslcore.data.samples import displayable  # noqa: E402
from sslcore.evaluate.report import (arm_label, curve_summary, label_efficiency_figure,  # noqa: E402
                                    label_efficiency_table, run_curves)
from sslcore.augment import AugmentConfig  # noqa: E402
from sslcore.catalogue import load_catalogue, load_taxonomy  # noqa: E402
from sslcore.experiments.estimate import format_duration  # noqa: E402
from sslcore.methods import METHODS  # noqa: E402

DISPLAY_SIZE = 64  # px of the pictures; the SimCLR encoder of the curve works at its own size (32 px)
THUMBNAIL = 120  # display width of one picture, in screen pixels


@st.cache_resource(max_entries=2, show_spinner="Drawing the example radiographs…")
def cached_images(image_size: int):
    return learn.teaching_dataset(image_size)


@st.cache_resource(show_spinner="Loading the models trained for this page…")
def cached_assets():
    return learn.load_assets()


@st.cache_resource(max_entries=16)
def cached_mae(mask_ratio: float):
    return cached_assets().mae(mask_ratio)


def pictures(images, captions) -> None:
    """A row of images (N, C, H, W) with one caption each."""
    st.image(list(displayable(images)), caption=list(captions), width=THUMBNAIL)


def percent(value: float) -> str:
    """0.01 -> "1%", 0.875 -> "87.5%"."""
    return f"{value * 100:.3g}%"


st.title("Learn: self-supervised learning in pictures")
st.caption("For clinicians: what self-supervised learning is, why it matters when labels are scarce, and how to "
           "judge a study that uses it. Every picture and number below is computed by this app from its built-in "
           "synthetic chest radiographs (drawn by a program, no real patient), so you can change the inputs and "
           "watch what happens.")

dataset = cached_images(DISPLAY_SIZE)
train = dataset.splits["train"]
try:
    assets = cached_assets()
    sources = learn.provenance(assets.manifest)
except (FileNotFoundError, ValueError) as error:
    assets = None
    st.warning("The small models this page uses are not built yet, so the parts that need them are skipped. "
               "Build them once (a few minutes on a laptop) with the command below, then reload the page.")
    st.code(learn.BUILD_COMMAND, language="bash")
    st.text(str(error))

# --- 1. What self-supervised learning is ---------------------------------------------------------
st.header("1. What self-supervised learning is", anchor="what")
st.markdown(
    "A neural network learns to read images from examples. Usually every example needs a **label**: the answer "
    "an expert gives, such as *pleural effusion*. **Self-supervised learning (SSL)** lets the network first learn "
    "from images *without* labels, by giving it a task whose answer is hidden in the images themselves. The few "
    "labelled images are used only afterwards.")

st.subheader("Step 1: labels are scarce")
st.markdown(
    "Images are plentiful: a hospital's archive grows every day. Labels are not. Each one costs a specialist's "
    "time; some findings need a biopsy or a follow-up scan to confirm; experts disagree on borderline cases; rare "
    "conditions have few examples; and privacy rules make it hard to pool labelled images between hospitals.")
examples = [learn.class_members(train.labels, index)[0].item() for index in range(dataset.n_classes)]
pictures(train.images[examples], dataset.label_names)
st.caption(f"One image of each of the {dataset.n_classes} findings of the built-in set. The program that drew them "
           "knows every label; in a real archive, each label would cost an expert's read.")

st.subheader("Step 2: a pretext task")
st.markdown(
    "Self-supervised learning replaces the expert's answer with a made-up question whose answer the computer "
    "already knows: a **pretext task**. Turn the image and ask which way up it is; hide part of it and ask for the "
    "missing part; alter it twice and ask whether the two altered copies came from the same image. No one labels "
    "anything, yet to answer well the network has to learn what chest anatomy looks like.")
turned = learn.views_by_method(train.images[examples[0]], ["rotation"], augment_config=AugmentConfig.preset("none"))
pictures(turned["rotation"].images, turned["rotation"].captions)
st.caption("A pretext task: which way was this image turned? The answer comes free with every image.")

st.subheader("Step 3: pretraining, then fine-tuning with few labels")
left, right = st.columns([3, 2])
with left:
    st.graphviz_chart(learn.PIPELINE_DIAGRAM)
with right:
    st.markdown(
        "1. **Pretraining.** The **encoder** (the part of the network that turns an image into a list of numbers, "
        "its **representation**) practises the pretext task on many unlabelled images.\n"
        "2. **Fine-tuning.** A small classifier is trained on top of the representation with the few labelled "
        "images; sometimes the encoder is adjusted a little too. Because the representation already separates "
        "what matters in the images, a few labels go a long way.")
if assets is not None:
    losses, knn = learn.pretraining_curves(assets.simclr.history)
    loss_column, knn_column = st.columns(2)
    with loss_column:
        st.line_chart(losses, x="step", y="loss", height=220)
        st.caption("Pretext-task loss (lower is better) while SimCLR pretrained on unlabelled images.")
    with knn_column:
        if not knn.empty:
            st.line_chart(knn, x="epoch", y="kNN accuracy", height=220)
            st.caption(f"Meanwhile, images with the same finding drew closer together: a vote among the nearest "
                       f"labelled images (kNN) named the finding of {percent(knn['kNN accuracy'].iloc[0])} of the "
                       f"validation images after the first pass over the data (epoch) and "
                       f"{percent(knn['kNN accuracy'].iloc[-1])} after the last. Labels were used only to measure "
                       f"this, never to train.")
    st.caption("From the same run as the curve of step 4; how it was made is written under that curve.")

st.subheader("Step 4: it helps most when labels are scarce")
if assets is not None:
    method = assets.manifest["experiment"]["config"]["method"]
    st.plotly_chart(label_efficiency_figure(run_curves({"": curve_summary(assets.points)})))
    table = label_efficiency_table(assets.points, method)
    fewest, most = table.iloc[0], table.iloc[-1]
    st.markdown(
        f"**Reading the curve.** Left to right, more of the training images keep their label (the **label "
        f"fraction**). Up is better: the **AUC** says how well the model ranks images with a finding above images "
        f"without it (0.5 is guessing, 1.0 is perfect). *{arm_label(method, 'linear')}* is a **linear probe** (the "
        f"simplest classifier, a weighted sum of the representation's numbers) on the self-supervised encoder, "
        f"which stays frozen; *{arm_label(method, 'knn')}* the nearest-neighbour vote on it; "
        f"*{arm_label(method, 'finetune')}* the pretrained encoder trained further, whole, on the labelled images; "
        f"*{arm_label('supervised', 'finetune')}* the same network and training from random weights, the fair "
        f"comparison for fine-tuning; *random encoder* the probes on an encoder that never learned anything, the "
        f"fair comparison for the linear probe and kNN. The shaded bands "
        f"show the spread over repeats with different labelled images (**seeds**).")
    story = learn.curve_story(assets.manifest["experiment"].get("comparisons", []))
    if story:
        st.markdown(" ".join(story))
    else:  # assets built before comparisons were recorded: the means only
        st.markdown(
            f"With **{percent(table.index[0])} of the labels ({int(fewest['n_labelled'])} images)** the pretrained "
            f"encoder's linear probe reaches an AUC of **{fewest[method]:.3f}**, training from scratch "
            f"**{fewest['supervised']:.3f}**; with **all {int(most['n_labelled'])} labels** **{most[method]:.3f}** "
            f"against **{most['supervised']:.3f}**. Rebuild the assets for the paired intervals.")
    st.caption(sources["curve"])

# --- 2. Play with it -------------------------------------------------------------------------------
# A fragment: its choices rerun this section only, not the curves, charts and tables around it; each
# picture is cached on the inputs it depends on, so a change redraws only the pictures it alters.
@st.cache_data(max_entries=64, show_spinner=False)
def cached_views(index: int, partner: int, shown: tuple[str, ...], strength: float, seed: int):
    images = cached_images(DISPLAY_SIZE).splits["train"].images
    mae = cached_mae(cached_assets().mae_recipe.mask_ratio) if "mae" in shown else None
    return learn.views_by_method(images[index], list(shown), partner=images[partner], mae=mae,
                                 augment_config=AugmentConfig.preset("radiograph", strength), seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_similarity(batch: tuple[int, ...], strength: float, seed: int):
    assets = cached_assets()
    images = cached_images(assets.simclr.config.image_size).splits["train"].images
    return learn.similarity_matrix(learn.contrastive_encoder(assets.simclr.method), images[list(batch)], seed=seed,
                                   augment_config=AugmentConfig.preset("radiograph", strength))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_reconstruction(index: int, mask_ratio: float, seed: int):
    image = cached_images(DISPLAY_SIZE).splits["train"].images[index]
    return learn.reconstruct(cached_mae(mask_ratio), image[None], seed=seed)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_rotations(index: int):
    image = cached_images(DISPLAY_SIZE).splits["train"].images[index]
    return learn.guess_rotations(cached_assets().rotation.method, image[None])


@st.fragment
def mae_section(index: int, seed: int) -> None:
    """The masked autoencoder's picture; its slider reruns this fragment only."""
    trained_ratio = assets.mae_recipe.mask_ratio
    st.subheader("Hide and redraw (masked autoencoder)")
    st.markdown(
        "A **masked autoencoder (MAE)** cuts the image into square tiles (**patches**), hides most of them and "
        "learns to redraw the hidden ones from the few it sees. To do it well it must know where lungs, heart and "
        "diaphragm usually are and how bright they are.")
    mask_ratio = st.slider("Share of tiles hidden", 0.25, 0.9, trained_ratio, 0.05, key="mask_ratio",
                           help=f"The model was trained hiding {trained_ratio:.0%} of them.")
    result = cached_reconstruction(index, mask_ratio, seed)
    st.image([displayable(result.original)[0], displayable(result.masked)[0],
              displayable(result.reconstruction)[0]], width=2 * THUMBNAIL,
             caption=["original", f"what the network sees ({mask_ratio:.0%} hidden, in blue)",
                      "its reconstruction"])
    error, baseline = result.error[0].sqrt().item(), result.baseline_error[0].sqrt().item()
    mae_facts = assets.manifest["mae"]
    st.markdown(
        f"On the hidden tiles of this image the redrawing is off by **{error:.3f}** on average (root mean squared "
        f"difference, brightness from 0 to 1); filling them with the mean brightness of the visible tiles would be "
        f"off by **{baseline:.3f}**. Over {mae_facts['test_images']} unseen test images: "
        f"**{mae_facts['test_error'] ** 0.5:.3f}** against **{mae_facts['test_baseline_error'] ** 0.5:.3f}** at the "
        f"{trained_ratio:.0%} it was trained on.")
    if error < baseline:
        st.markdown("The redrawing is blurred: the network predicts the likely anatomy, not the exact ribs, and that "
                    "knowledge of likely anatomy is what pretraining is after.")
    else:
        st.markdown(f"Here the redrawing is no better than the flat guess. The network learned to redraw with "
                    f"{trained_ratio:.0%} of the tiles hidden; with {mask_ratio:.0%} hidden it gets inputs unlike "
                    f"the ones it trained on, and a small model trained for "
                    f"{format_duration(assets.manifest['timings']['mae_s'])} does not carry over. Move the "
                    f"slider back towards {trained_ratio:.0%}.")
    st.caption(sources["mae"])


def similarity_section(index: int, class_index: int, strength: float, seed: int) -> None:
    """A batch of your image and one of each other finding, two views each, as a similarity matrix."""
    st.subheader("Pulled together, pushed apart")
    small = cached_images(assets.simclr.config.image_size).splits["train"]
    batch = [index] + [learn.class_members(small.labels, other)[0].item()
                       for other in range(dataset.n_classes) if other != class_index]
    similarity = cached_similarity(tuple(batch), strength, seed)
    names = [dataset.label_names[small.labels[i].item()] for i in batch]
    labels = [f"{chr(ord('A') + n)}{view}" for n in range(len(batch)) for view in (1, 2)]
    hover = [f"{label} ({name})" for label, name in zip(labels, [name for name in names for _ in (1, 2)])]
    st.markdown(
        f"A contrastive method such as SimCLR looks at a **batch** of images at once. Here is a batch of "
        f"{len(batch)}: image A is yours, the others one of each other finding, each altered twice. The "
        f"trained encoder turns every view into a representation, and the **similarity** of two "
        f"representations runs from -1 (opposite) to 1 (identical). Training pulls each **positive pair** (the "
        f"two views of one image, outlined) together and pushes **negative pairs** (views of different images) "
        f"apart.")
    pictures(similarity.views, hover)
    st.plotly_chart(learn.similarity_figure(similarity, labels, hover))
    found = int((similarity.nearest == similarity.positives).sum())
    st.markdown(
        f"For **{found} of the {len(labels)} views**, the most similar other view is its own partner. On "
        f"average the two views of one image score **{similarity.positive_similarity:.2f}** and views of "
        f"different images **{similarity.negative_similarity:.2f}**. "
        + learn.recognition_sentence(found, len(labels), similarity.positive_similarity,
                                     similarity.negative_similarity))
    st.caption(f"The encoder is the one behind the curve above, at {assets.simclr.config.image_size} px. "
               + sources["curve"])


def micle_section(index: int, others, seed: int) -> None:
    """Your image beside another image of its patient (or another patient's pair)."""
    st.subheader("Two images, one patient (MICLe)")
    st.markdown(
        "A patient often has several images: two projections, or follow-up studies. **MICLe** (multi-instance "
        "contrastive learning) uses two different images of the same patient as a positive pair, so the network "
        "learns what stays the same about a patient's condition across acquisitions, not just across alterations.")
    if len(others):
        pair = torch.tensor([index, others[0].item()])
        st.caption("Your image and another image of the same patient:")
    else:
        pair = learn.same_patient_pairs(train.patient_ids, 1, seed=seed)[0]
        st.caption("Your patient has a single image, so here is another patient with two:")
    pictures(train.images[pair],
             [f"patient {train.patient_ids[i].item()}, image {n}" for n, i in enumerate(pair, 1)])


def rotation_section(index: int) -> None:
    """The rotation model naming the angle of your image turned four ways."""
    st.subheader("Which way up? (rotation prediction)")
    st.markdown(
        "**Rotation prediction** turns each image by 0, 90, 180 or 270 degrees and asks the network which. "
        "Telling the apex from the diaphragm and the heart's side from the other requires recognising the "
        "anatomy.")
    guesses = cached_rotations(index)
    predicted = guesses.predicted[0]
    confidence = guesses.probabilities[0].max(dim=-1).values
    pictures(guesses.turned[0], [f"turned {angle}°: guessed {learn.ANGLES[guess]}° ({probability:.0%})"
                                 for angle, guess, probability in zip(learn.ANGLES, predicted.tolist(),
                                                                      confidence.tolist())])
    rotation_facts = assets.manifest["rotation"]
    st.markdown(f"On {rotation_facts['test_images']} unseen test images, each turned four ways, it names the "
                f"right angle {percent(rotation_facts['test_accuracy'])} of the time.")
    st.caption(sources["rotation"])


@st.fragment
def play() -> None:
    """Section 2: the choices of image, random draw and strength rerun this section only."""
    st.header("2. Play with it", anchor="play")
    pick_class, pick_index, pick_seed, pick_strength = st.columns(4)
    class_index = pick_class.selectbox("Finding", range(dataset.n_classes),
                                       format_func=dataset.label_names.__getitem__, key="class")
    members = learn.class_members(train.labels, class_index)
    # The first image shown belongs to a patient with several images, so that MICLe has a real pair.
    first = next((n for n, i in enumerate(members.tolist())
                  if len(learn.other_images_of_patient(train.patient_ids, i))), 0)
    member = pick_index.number_input(f"Image (1 to {len(members)})", 1, len(members), first + 1,
                                     key=f"member-{class_index}") - 1
    seed = pick_seed.number_input(
        "Random draw", 0, 10_000, 0, key="seed",
        help="Changes the random alterations and masks; the same number gives the same ones.")
    strength = pick_strength.slider("Alteration strength", 0.0, 2.0, 1.0, 0.1, key="strength",
                                    help="Scales every alteration: 0 leaves images untouched, 1 is the default for "
                                         "pretraining on radiographs.")
    index = members[member].item()
    image = train.images[index]
    others = learn.other_images_of_patient(train.patient_ids, index)
    st.image(displayable(image[None])[0], width=2 * THUMBNAIL,
             caption=f"{dataset.label_names[class_index]}, patient {train.patient_ids[index].item()} "
                     + ("(the only image of this patient)" if len(others) == 0
                        else f"({len(others) + 1} images of this patient)"))

    st.subheader("The views each method makes")
    st.markdown(
        "During pretraining the network never sees the image as it is: each method first makes **views** of it with "
        "random **augmentations** (alterations that keep the meaning: cropping, slight turns, brightness, contrast, "
        "blur, noise, a greyed-out patch) and builds its pretext task from them.")
    partner = others[0].item() if len(others) else index
    shown = ("simclr", "micle", "rotation") + (("mae",) if assets is not None else ())
    views = cached_views(index, partner, shown, strength, seed)
    two_view_titles = ", ".join(METHODS[name].title for name in learn.TWO_VIEW_METHODS[1:])
    notes = {
        "simclr": f"Two altered copies of the image; the network must match them. {two_view_titles} make their two "
                  f"copies the same way.",
        "micle": "One altered copy of this image and one of another image of the same patient"
                 + ("." if len(others) else " (this patient has one image, so MICLe falls back to the image itself)."),
        "mae": "One altered copy with most square tiles (patches) hidden; the network must redraw them.",
        "rotation": "One altered copy turned four ways; the network must say which way.",
    }
    for name, method_views in views.items():
        st.markdown(f"**{METHODS[name].title}**: {notes[name]}")
        pictures(method_views.images, method_views.captions)

    if assets is not None:
        similarity_section(index, class_index, strength, seed)
    micle_section(index, others, seed)
    if assets is not None:
        mae_section(index, seed)

        rotation_section(index)

play()

# --- 3. Families of methods ------------------------------------------------------------------------
st.header("3. Families of methods", anchor="strategies")
catalogue = load_catalogue()
st.markdown(
    f"The systematic reviews of Huang et al. (2023, npj Digital Medicine) and Zeng et al. (2024, BioMedical "
    f"Engineering OnLine) sort self-supervised methods in medical imaging into five strategies. The catalogue of "
    f"this app annotates {len(catalogue)} published studies with them.")
for overview in learn.strategy_overview(catalogue.studies, load_taxonomy()):
    st.subheader(f"{overview.label} ({overview.n_studies} studies)")
    st.text(overview.explanation)
    if overview.methods:
        st.markdown("In this app: " + "; ".join(f"**{info.title}** ({info.citation.authors}, {info.citation.year})"
                                                for info in overview.methods))
    if overview.examples:
        st.dataframe(pd.DataFrame({"Example study": [study.title for study in overview.examples],
                                   "Year": [study.year for study in overview.examples]}),
                     hide_index=True,
                     column_config={"Year": st.column_config.NumberColumn(format="%d")})
    st.link_button(f"Open the {overview.n_studies} {overview.label.lower()} studies in the catalogue",
                   overview.link, icon=":material/menu_book:", disabled=not overview.n_studies)

remedis_text = learn.content()["remedis"]
st.subheader(remedis_text["title"], anchor="remedis")
st.markdown("\n".join(f"{number}. {step}" for number, step in enumerate(remedis_text["steps"], 1)))
st.markdown(remedis_text["finding"])
st.markdown(remedis_text["try_it"])
left, right = st.columns(2)
left.link_button("Queue it in the Lab (section 6, Compare methods)", "lab", icon=":material/science:")
right.link_button("See the comparisons already run", "compare", icon=":material/leaderboard:")

# --- 4. Practical guidelines ---------------------------------------------------------------------------
st.header("4. Practical guidelines", anchor="guidelines")
st.markdown("A checklist for planning or reading a self-supervised study; tick what your study does.")


@st.fragment
def checklist() -> None:
    """Ticking a box reruns only the checklist."""
    for section, (title, items) in enumerate(learn.content()["guidelines"].items()):
        st.markdown(f"**{title}**")
        for item, text in enumerate(items):
            st.checkbox(text, key=f"guideline-{section}-{item}")


checklist()

# --- 5. Glossary -------------------------------------------------------------------------------------------
st.header("5. Glossary", anchor="glossary")
st.markdown("\n".join(f"- **{term}**: {definition}" for term, definition in learn.content()["glossary"].items()))
