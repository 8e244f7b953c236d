import math

import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

from sslcore.augment import (_NOISE, N_DRAWS, AugmentConfig, _blur, augment, hashed_normal, normalize, preview_views,
                             to_float)


def _images(b=8, c=1, size=16, seed=0):
    return torch.randint(0, 256, (b, c, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("preset", ["radiograph", "light", "none"])
@pytest.mark.parametrize("size", [8, 28, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_output_shape_dtype_range(preset, size, channels):
    x = _images(c=channels, size=size)
    out = augment(x, AugmentConfig.preset(preset, 2.0), torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.float32
    assert out.min() >= 0 and out.max() <= 1


def test_identity_when_everything_is_off():
    x = _images()
    assert torch.equal(augment(x, AugmentConfig.preset("none")), to_float(x))
    assert torch.equal(augment(x, AugmentConfig.preset("radiograph", 0.0)), to_float(x))


def test_same_seed_same_views_and_other_seed_other_views():
    x, config = _images(), AugmentConfig.preset("radiograph")
    a = augment(x, config, torch.Generator().manual_seed(3))
    b = augment(x, config, torch.Generator().manual_seed(3))
    c = augment(x, config, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_parameters_are_independent_per_sample():
    # The same image repeated gets different views: each sample draws its own parameters.
    x = _images(b=1).repeat(16, 1, 1, 1)
    out = augment(x, AugmentConfig.preset("radiograph"), torch.Generator().manual_seed(0))
    flat = out.flatten(1)
    distinct = {tuple(row.tolist()) for row in flat}
    assert len(distinct) == 16


def test_flip_matches_torch_flip():
    x = _images(size=12)
    out = augment(x, AugmentConfig(hflip_p=1.0))
    torch.testing.assert_close(out, torch.flip(to_float(x), dims=[-1]), atol=1e-5, rtol=0)


def test_flip_probability_is_per_sample():
    x = _images(b=200, size=6)
    out = augment(x, AugmentConfig(hflip_p=0.5), torch.Generator().manual_seed(0))
    flipped = (out - torch.flip(to_float(x), dims=[-1])).flatten(1).abs().max(1).values < 1e-5
    assert 60 < int(flipped.sum()) < 140


@pytest.mark.parametrize("size", [17, 32])
def test_rotation_matches_torchvision_rotate(size):
    # With rotation_deg=a the drawn angle is uniform in [-a, a]; compare against the reference
    # rotation by that same angle, drawn from an identically seeded generator.
    image = torch.zeros(1, 1, size, size)
    image[..., size // 4: size // 2, size // 3: size - 2] = 1.0
    config = AugmentConfig(rotation_deg=30.0)
    out = augment(image, config, torch.Generator().manual_seed(5))
    generator = torch.Generator().manual_seed(5)
    # The crop draws (area, ratio, cx, cy) and the flip draw come before the angle.
    angle = -30 + 60 * torch.rand(6, generator=generator)[5].item()
    # Positive angles turn counter-clockwise, as in torchvision.
    reference = TF.rotate(image, angle, interpolation=TF.InterpolationMode.BILINEAR)
    # Compare away from the border, where the two implementations' padding differs.
    inner = slice(2, size - 2)
    assert abs(angle) > 1
    torch.testing.assert_close(out[..., inner, inner], reference[..., inner, inner], atol=1e-4, rtol=0)


def test_grayscale_stays_one_channel():
    out = preview_views(_images(b=3, c=1), AugmentConfig.preset("radiograph"), n_views=4, seed=0)
    assert out.shape == (3, 4, 1, 16, 16)


def test_preview_views_are_seeded_and_differ_between_views():
    x = _images(b=2)
    a = preview_views(x, AugmentConfig.preset("radiograph"), n_views=3, seed=7)
    assert torch.equal(a, preview_views(x, AugmentConfig.preset("radiograph"), n_views=3, seed=7))
    assert not torch.equal(a[:, 0], a[:, 1])


def test_cutout_masks_a_grey_rectangle():
    x = torch.zeros(4, 1, 20, 20, dtype=torch.uint8)
    out = augment(x, AugmentConfig(cutout_p=1.0, cutout_scale=(0.1, 0.1)), torch.Generator().manual_seed(0))
    masked = (out == 0.5).flatten(1).float().mean(1)
    assert ((masked > 0.03) & (masked < 0.2)).all()


def test_blur_preserves_mean_and_smooths():
    x = _images(b=4, size=32)
    out = augment(x, AugmentConfig(blur_p=1.0, blur_sigma=(0.05, 0.05)))
    # Reflect padding keeps the mean close; a blur lowers the pixel-to-pixel variation.
    torch.testing.assert_close(out.mean((1, 2, 3)), to_float(x).mean((1, 2, 3)), atol=0.02, rtol=0)
    assert out.diff(dim=-1).abs().mean() < 0.5 * to_float(x).diff(dim=-1).abs().mean()


def test_blur_matches_torchvision_for_one_image():
    x = torch.rand(1, 1, 24, 24)
    sigma_fraction = 1.0 / 24  # one pixel
    out = augment(x, AugmentConfig(blur_p=1.0, blur_sigma=(sigma_fraction, sigma_fraction)))
    radius = math.ceil(3 * sigma_fraction * 24)
    reference = TF.gaussian_blur(x, kernel_size=2 * radius + 1, sigma=1.0)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=0)


def test_normalize():
    assert torch.allclose(normalize(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-2.0, 0.0, 2.0]))


@pytest.mark.parametrize("kwargs", [
    {"crop_scale": (0.0, 1.0)}, {"crop_scale": (0.8, 0.5)}, {"crop_scale": (0.5, 1.5)},
    {"hflip_p": 1.5}, {"rotation_deg": -1}, {"brightness": 1.0}, {"contrast": -0.1},
    {"blur_sigma": (0.1, 0.01)}, {"noise_std": -0.1}, {"cutout_p": 2}, {"cutout_scale": (0.2,)},
])
def test_config_validation(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        AugmentConfig(**kwargs)


def test_preset_validation_and_strength():
    with pytest.raises(ValueError, match="preset"):
        AugmentConfig.preset("colour")
    with pytest.raises(ValueError, match="strength"):
        AugmentConfig.preset("radiograph", 3.0)
    weak, strong = AugmentConfig.preset("radiograph", 0.5), AugmentConfig.preset("radiograph", 2.0)
    assert weak.rotation_deg < strong.rotation_deg and weak.crop_scale[0] > strong.crop_scale[0]


def _lowbias32(value: int) -> int:
    """Reference: Wellons' lowbias32 on Python integers (unsigned 32-bit arithmetic)."""
    value ^= value >> 16
    value = value * 0x7FEB352D % 2**32
    value ^= value >> 15
    value = value * 0x846CA68B % 2**32
    return value ^ (value >> 16)


def test_hashed_normal_matches_the_reference_hash_and_table():
    key = (-123_456_789, 2**31 - 5)
    numel = 1001  # odd: 501 pixel pairs, the last one's low half unused
    noise = hashed_normal((7, 11, 13), key)
    table = torch.special.ndtri((torch.arange(2**16, dtype=torch.float64) + 0.5) / 2**16)
    table = (table / table.square().mean().sqrt()).float()
    pairs = (numel + 1) // 2
    for element in (0, 1, 250, 500, 501, 502, 1000):
        counter = element % pairs
        word = _lowbias32((counter * (key[0] | 1) + key[1]) % 2**32)
        half = word >> 16 if element < pairs else word & 0xFFFF
        assert noise.flatten()[element] == table[half]


def test_hashed_normal_is_standard_normal_reproducible_and_new_for_every_key():
    noise = hashed_normal((400, 1, 50, 50), (3, 4))
    assert noise.shape == (400, 1, 50, 50) and noise.dtype == torch.float32
    assert abs(noise.mean().item()) < 0.005 and abs(noise.std().item() - 1) < 0.005
    assert abs((noise.abs() < 1).float().mean().item() - 0.6827) < 0.005  # the normal's mass within one sigma
    assert torch.equal(noise, hashed_normal((400, 1, 50, 50), (3, 4)))
    flat = noise.flatten()
    for other in ((3, 5), (4, 4), (-3, 4)):  # neighbouring keys give unrelated noise
        assert abs(torch.corrcoef(torch.stack([flat, hashed_normal(noise.shape, other).flatten()]))[0, 1]) < 0.01
    assert abs(torch.corrcoef(torch.stack([flat[:-1], flat[1:]]))[0, 1]) < 0.01  # neighbouring pixels too


def test_hashed_normal_rejects_a_key_out_of_range():
    with pytest.raises(ValueError, match="key"):
        hashed_normal((4,), (2**31, 0))


def test_noise_has_the_drawn_standard_deviation_per_sample():
    x = torch.full((64, 1, 32, 32), 128, dtype=torch.uint8)
    config = AugmentConfig(noise_std=0.1)
    out = augment(x, config, torch.Generator().manual_seed(2))
    generator = torch.Generator().manual_seed(2)
    drawn = 0.1 * torch.rand(64, N_DRAWS, generator=generator)[:, _NOISE]  # each sample's noise level
    torch.testing.assert_close((out - 128 / 255).flatten(1).std(1), drawn, atol=0.01, rtol=0.1)


def test_each_call_draws_a_fixed_amount_from_the_generator():
    # (B, 17) uniforms and two integers, whatever the config: the next draw does not depend on it.
    x = _images(b=5)
    for config in (AugmentConfig(), AugmentConfig.preset("radiograph"), AugmentConfig.preset("crop")):
        generator = torch.Generator().manual_seed(0)
        augment(x, config, generator)
        expected = torch.Generator().manual_seed(0)
        torch.rand(5, N_DRAWS, generator=expected)
        torch.randint(-2**31, 2**31, (2,), generator=expected)
        assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=expected))


def test_float_input_is_left_untouched_and_autocast_does_not_change_the_views():
    x = to_float(_images(size=20))
    kept = x.clone()
    config = AugmentConfig.preset("radiograph", 2.0)
    plain = augment(x, config, torch.Generator().manual_seed(1))
    assert torch.equal(x, kept)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        autocast = augment(x, config, torch.Generator().manual_seed(1))
    assert autocast.dtype == torch.float32 and torch.equal(autocast, plain)


@pytest.mark.parametrize("shape", [(6, 1, 24, 24), (5, 3, 20, 31)])
def test_matrix_blur_matches_a_per_sample_reflect_convolution(shape):
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    index = torch.tensor([0, 2, 3])
    radius = 4
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float32)
    sigmas = torch.tensor([0.5, 1.5, 3.0])
    kernel = torch.exp(-offsets ** 2 / (2 * sigmas[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)  # (3, 9)
    expected = x.clone()
    for row, sample in enumerate(index.tolist()):  # the reference: one sample at a time
        k = kernel[row]
        one = F.pad(x[sample:sample + 1], (radius, radius, radius, radius), mode="reflect")
        one = F.conv2d(one.transpose(0, 1), k.view(1, 1, 1, -1))  # channels as a batch
        one = F.conv2d(one, k.view(1, 1, -1, 1)).transpose(0, 1)
        expected[sample] = one[0]
    torch.testing.assert_close(_blur(x.clone(), index, kernel), expected, atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_generator_rejected():
    with pytest.raises(ValueError, match="CPU"):
        augment(_images(), AugmentConfig(), torch.Generator(device="cuda"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cpu_and_cuda_agree():
    x, config = _images(size=28), AugmentConfig.preset("radiograph")
    cpu = augment(x, config, torch.Generator().manual_seed(0))
    cuda = augment(x.cuda(), config, torch.Generator().manual_seed(0))
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_device_noise_is_the_same_numbers_as_on_the_cpu():
    key = (987_654_321, -42)
    assert torch.equal(hashed_normal((64, 3, 33, 33), key, "cuda").cpu(), hashed_normal((64, 3, 33, 33), key))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("preset", ["radiograph", "light", "crop"])
def test_cpu_and_cuda_agree_on_a_large_batch_inside_autocast(preset):
    # 64 samples: some blurred, some cut out, some not; the trainer calls augment under bf16 autocast.
    x, config = _images(b=64, size=64), AugmentConfig.preset(preset, 1.5)
    cpu = augment(x, config, torch.Generator().manual_seed(0))
    with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
        cuda = augment(x.cuda(), config, torch.Generator().manual_seed(0))
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_augment_on_cuda_never_waits_for_the_device():
    x, config = _images(b=64, size=64).cuda(), AugmentConfig.preset("radiograph")
    augment(x, config, torch.Generator().manual_seed(0))  # builds the cached tables on the device
    torch.cuda.set_sync_debug_mode("error")
    try:
        augment(x, config, torch.Generator().manual_seed(1))
    finally:
        torch.cuda.set_sync_debug_mode("default")
