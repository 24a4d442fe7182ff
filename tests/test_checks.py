import pytest
import torch
import torch.nn.functional as F

from course_lib.checks import (CheckError, check_close, check_dtype, check_equal, check_gan_steps, check_in_range,
                               check_residual_block, check_shape)
from course_lib.losses import gan_g_loss, gan_g_loss_saturating
from course_lib.train import discriminator_step, generator_step


def test_check_shape_passes_and_prints(capsys):
    check_shape(torch.zeros(2, 3), (2, 3), name="x")
    assert "x is correct" in capsys.readouterr().out
    check_shape(torch.zeros(5, 3), (-1, 3), name="x")


def test_check_shape_explains_expected_and_received():
    with pytest.raises(CheckError) as err:
        check_shape(torch.zeros(2, 4), (2, 3), name="features", hint="flatten from dim 1")
    message = str(err.value)
    assert "features" in message and "(2, 3)" in message and "(2, 4)" in message and "flatten" in message


def test_check_close_reports_largest_error_and_location():
    expected = torch.zeros(3, 3)
    value = expected.clone()
    value[1, 2] = 0.5
    with pytest.raises(CheckError) as err:
        check_close(value, expected, atol=1e-3, name="kernel")
    message = str(err.value)
    assert "1 of 9" in message and "(1, 2)" in message and "0.5" in message


def test_check_close_accepts_within_tolerance_and_matching_infinities():
    check_close(torch.tensor([1.0, float("inf")]), [1.0 + 1e-8, float("inf")])


def test_check_close_rejects_shape_mismatch_and_none():
    with pytest.raises(CheckError, match=r"expected shape \(3,\), got \(2,\)"):
        check_close(torch.zeros(2), torch.zeros(3))
    with pytest.raises(CheckError, match="no answer yet"):
        check_close(None, torch.zeros(3))


def test_check_equal_and_range():
    check_equal((1, 2), (1, 2))
    with pytest.raises(CheckError, match="expected 14, got 13"):
        check_equal(13, 14, name="output size", show_expected=True)
    check_in_range(0.5, 0, 1)
    with pytest.raises(CheckError, match=r"\[0, 1\]"):
        check_in_range(1.5, 0, 1)


@pytest.mark.parametrize("value, expected, message", [
    (13, 14, "got 13, which is too small"),
    (118013, 118013 * 2, "got 118013, which is too small"),
    ((1, 8, 25, 16), (1, 8, 25, 17), r"entries at positions \[3\] are wrong"),
    ((1, 8), (1, 8, 25), "has 2 entries, not 3"),
    ("abc", "abd", "got 'abc', which is not the expected value"),
])
def test_check_equal_does_not_print_the_answer(value, expected, message):
    with pytest.raises(CheckError, match=message) as err:
        check_equal(value, expected, name="answer")
    assert repr(expected) not in str(err.value).replace(repr(value), "")


def test_check_close_on_a_single_number_hides_it():
    with pytest.raises(CheckError, match="which is too large") as err:
        check_close(31.25, 30.1234, atol=1e-3, name="PSNR")
    assert "30.12" not in str(err.value)


def test_check_dtype_rejects_float64():
    check_dtype(torch.zeros(2), torch.float32, name="x")
    with pytest.raises(CheckError, match="expected dtype torch.float32, got torch.float64"):
        check_dtype(torch.zeros(2, dtype=torch.float64), torch.float32, name="to_tensor(coffee)")
    with pytest.raises(CheckError, match="expected a torch.Tensor, got ndarray"):
        check_dtype(torch.zeros(2).numpy(), torch.float32)


# --- check_gan_steps: one typical wrong answer per property ---------------------------------

def bce(logits, label):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, label))


def reference_d_step(D, G, real, z, opt_D):
    return discriminator_step(D, G, real, z, opt_D)["d_loss"]


def reference_g_step(D, G, z, opt_G):
    return generator_step(D, G, z, opt_G)["g_loss"]


def d_step_not_detached(D, G, real, z, opt_D):
    opt_D.zero_grad()
    loss = bce(D(real), 1.0) + bce(D(G(z)), 0.0)  # the graph reaches G
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_without_zero_grad(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    loss = bce(D(real), 1.0) + bce(D(fake), 0.0)
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_swapped_labels(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    loss = bce(D(real), 0.0) + bce(D(fake), 1.0)
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_broadcast_labels(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    logits = D(torch.cat([real, fake]))  # (2B,)
    labels = torch.cat([torch.ones(len(real), 1), torch.zeros(len(fake), 1)])  # (2B, 1): broadcasts
    loss = -(labels * F.logsigmoid(logits) + (1 - labels) * F.logsigmoid(-logits)).mean()
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_label_shape_error(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    ones = torch.ones(len(real), 1)  # (B, 1) against logits (B,): BCE refuses
    loss = F.binary_cross_entropy_with_logits(D(real), ones) + bce(D(fake), 0.0)
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_also_steps_G(D, G, real, z, opt_D):
    loss = reference_d_step(D, G, real, z, opt_D)
    generator_step(D, G, z, torch.optim.SGD(G.parameters(), lr=0.1))  # G's step folded into D's
    G.zero_grad(set_to_none=True)
    return loss


def d_step_without_step(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    loss = bce(D(real), 1.0) + bce(D(fake), 0.0)
    loss.backward()
    return loss.item()  # opt_D.step() forgotten


def d_step_with(loss_of_logits):
    def d_step(D, G, real, z, opt_D):
        with torch.no_grad():
            fake = G(z)
        opt_D.zero_grad()
        loss = loss_of_logits(D(real), D(fake))
        loss.backward()
        opt_D.step()
        return loss.item()
    return d_step


def d_step_returns_tensor(D, G, real, z, opt_D):
    reference_d_step(D, G, real, z, opt_D)
    return torch.tensor(1.0)


def g_step_with(loss_of_logits, detach=False):
    def g_step(D, G, z, opt_G):
        opt_G.zero_grad()
        fake = G(z)
        loss = loss_of_logits(D(fake.detach() if detach else fake))
        loss.backward()
        opt_G.step()
        return loss.item()
    return g_step


def g_step_also_steps_D(D, G, z, opt_G):
    loss = reference_g_step(D, G, z, opt_G)
    opt_D = torch.optim.SGD(D.parameters(), lr=0.1)  # as if the notebook's global opt_D were stepped here
    opt_D.zero_grad()
    gan_g_loss(D(G(z))).backward()
    opt_D.step()
    return loss


def g_step_leaves_D_frozen(D, G, z, opt_G):
    D.requires_grad_(False)
    opt_G.zero_grad()
    loss = gan_g_loss(D(G(z)))
    loss.backward()
    opt_G.step()
    return loss.item()


def g_step_without_zero_grad(D, G, z, opt_G):
    loss = gan_g_loss(D(G(z)))
    loss.backward()
    opt_G.step()
    return loss.item()


def g_step_returns_nan(D, G, z, opt_G):
    reference_g_step(D, G, z, opt_G)
    return float("nan")


def test_check_gan_steps_passes_the_reference_steps_with_one_line(capsys):
    check_gan_steps(reference_d_step, reference_g_step)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and "alternating GAN loop is correct" in lines[0]


def d_step_detach(D, G, real, z, opt_D):
    fake = G(z)
    opt_D.zero_grad()
    loss = bce(D(real), 1.0) + bce(D(fake.detach()), 0.0)
    loss.backward()
    opt_D.step()
    return loss.item()


def d_step_one_batch(D, G, real, z, opt_D):
    with torch.no_grad():
        fake = G(z)
    opt_D.zero_grad()
    logits = D(torch.cat([real, fake]))  # (2B,)
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(fake))])  # (2B,), the shape of the logits
    per_image = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    loss = per_image[:len(real)].mean() + per_image[len(real):].mean()
    loss.backward()
    opt_D.step()
    return loss.item()


def g_step_sigmoid_then_bce(D, G, z, opt_G):
    opt_G.zero_grad()
    p = torch.sigmoid(D(G(z)))
    loss = F.binary_cross_entropy(p, torch.ones_like(p))
    loss.backward()
    opt_G.step()
    return loss.item()


@pytest.mark.parametrize("d_step, g_step", [
    (d_step_detach, g_step_with(gan_g_loss)),  # D's .grad keeps the G step's leftovers: allowed
    (d_step_one_batch, g_step_sigmoid_then_bce),
    (reference_d_step, reference_g_step),  # D frozen during G's step, then restored
], ids=["fake.detach()", "one batch for D, sigmoid then BCE for G", "course_lib.train"])
def test_check_gan_steps_accepts_other_correct_steps(d_step, g_step):
    check_gan_steps(d_step, g_step)


@pytest.mark.parametrize("d_step, g_step, message", [
    (d_step_not_detached, reference_g_step, r"d_step: G's parameters received a gradient(.|\n)*no_grad"),
    (d_step_without_zero_grad, reference_g_step, r"d_step: .*already in D's \.grad(.|\n)*opt_D\.zero_grad"),
    (d_step_swapped_labels, reference_g_step, r"d_step: real images are labelled 0 and fakes 1"),
    (d_step_broadcast_labels, reference_g_step, r"d_step: .*broadcast(.|\n)*ones_like"),
    (d_step_label_shape_error, reference_g_step, r"d_step: raised ValueError(.|\n)*shape of D's logits"),
    (d_step_returns_tensor, reference_g_step, r"d_step: returned a tensor(.|\n)*loss\.item\(\)"),
    (d_step_also_steps_G, reference_g_step, r"d_step: changed G's parameters"),
    (d_step_without_step, reference_g_step, r"d_step: did not change D's parameters(.|\n)*opt_D\.step"),
    (d_step_with(lambda r, f: (bce(r, 1.0) + bce(f, 0.0)) / 2), reference_g_step,
     r"d_step: the update points the right way but is 0\.50 times as long"),
    (d_step_with(lambda r, f: ((torch.sigmoid(r) - 1) ** 2).mean() + (torch.sigmoid(f) ** 2).mean()),
     reference_g_step, r"d_step: the update does not follow L_D(.|\n)*real labelled 1"),
    (reference_d_step, g_step_also_steps_D, r"g_step: changed D's parameters"),
    (reference_d_step, g_step_leaves_D_frozen, r"g_step: left D's parameters with requires_grad=False"),
    (reference_d_step, g_step_without_zero_grad, r"g_step: .*already in G's \.grad(.|\n)*opt_G\.zero_grad"),
    (reference_d_step, g_step_with(gan_g_loss, detach=True), r"g_step: no gradient of L_G reached G"),
    (reference_d_step, g_step_with(gan_g_loss_saturating), r"g_step: G follows the saturating loss"),
    (reference_d_step, g_step_with(lambda logits: bce(logits, 0.0)), r"g_step: G labels its fakes 0"),
    (reference_d_step, g_step_with(lambda logits: 2 * gan_g_loss(logits)),
     r"g_step: the update points the right way but is 2\.00 times as long"),
    (reference_d_step, g_step_returns_nan, r"g_step: should return the loss as a finite float"),
], ids=["D not detached", "D no zero_grad", "D swapped labels", "D broadcast labels", "D label shape error",
        "D returns tensor", "D steps G", "D without step", "D loss halved", "D squared error", "G steps D", "G leaves D frozen", "G no zero_grad", "G detached", "G saturating",
        "G labels 0", "G loss doubled", "G returns NaN"])
def test_check_gan_steps_names_the_broken_property(d_step, g_step, message):
    with pytest.raises(CheckError, match=message):
        check_gan_steps(d_step, g_step)


def test_check_gan_steps_lets_an_unsolved_exercise_raise_not_implemented():
    def stub(*args):
        raise NotImplementedError("exercise")
    with pytest.raises(NotImplementedError):
        check_gan_steps(stub, reference_g_step)
    with pytest.raises(NotImplementedError):
        check_gan_steps(reference_d_step, stub)


# --- check_residual_block: typical wrong forwards and constructors -------------------------

def make_block(forward=None, projection=True, final_bn=True):
    class Block(torch.nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()
            layers = [torch.nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), torch.nn.BatchNorm2d(c_out),
                      torch.nn.ReLU(), torch.nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)]
            self.residual = torch.nn.Sequential(*layers, *([torch.nn.BatchNorm2d(c_out)] if final_bn else []))
            if projection and (stride != 1 or c_in != c_out):
                self.shortcut = torch.nn.Sequential(torch.nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                                    torch.nn.BatchNorm2d(c_out))
            else:
                self.shortcut = torch.nn.Identity()

        def forward(self, x):
            if forward is None:
                return F.relu(self.residual(x) + self.shortcut(x))
            return forward(self, x)
    return Block


def test_check_residual_block_passes_a_correct_block(capsys):
    check_residual_block(make_block())
    assert "ResidualBlock is correct" in capsys.readouterr().out


@pytest.mark.parametrize("block, message", [
    (make_block(lambda self, x: F.relu(self.residual(x))), "does not return ReLU\\(shortcut\\(x\\)\\)"),
    (make_block(lambda self, x: self.residual(x) + self.shortcut(x)), "negative values"),
    (make_block(lambda self, x: F.relu(self.residual(x)) + self.shortcut(x)), "negative values"),
    (make_block(lambda self, x: F.relu(self.residual(x) + self.shortcut(x)) + F.relu(self.residual(x))),
     "is not ReLU\\(residual\\(x\\) \\+ shortcut\\(x\\)\\)"),
    (make_block(projection=False), "forward raised RuntimeError"),
], ids=["relu(F(x)) only", "no final ReLU", "ReLU before the sum", "extra term", "identity shortcut always"])
def test_check_residual_block_names_the_broken_property(block, message):
    with pytest.raises(CheckError, match=message):
        check_residual_block(block)


def test_check_residual_block_wants_named_paths_and_lets_stubs_through():
    class Anonymous(torch.nn.Module):
        def __init__(self, c_in, c_out, stride=1):
            super().__init__()
            self.f = torch.nn.Conv2d(c_in, c_out, 3, stride, 1)

        def forward(self, x):
            return self.f(x)
    with pytest.raises(CheckError, match="self.residual and self.shortcut"):
        check_residual_block(Anonymous)

    class Stub(torch.nn.Module):
        def __init__(self, *args):
            raise NotImplementedError("exercise")
    with pytest.raises(NotImplementedError):
        check_residual_block(Stub)


# --- check_crop_for_scale ---------------------------------------------------------------------

def test_check_crop_for_scale_passes_the_slice():
    from course_lib.checks import check_crop_for_scale
    check_crop_for_scale(lambda img, s: img[..., : img.shape[-2] // s * s, : img.shape[-1] // s * s])


@pytest.mark.parametrize("crop, message", [
    (lambda img, s: img[..., img.shape[-2] % s:, img.shape[-1] % s:], "right size but not the right pixels"),
    (lambda img, s: img[..., : -(img.shape[-2] % s), : -(img.shape[-1] % s)], r"expected shape \(3, 300, 448\)"),
    (lambda img, s: img, r"expected shape \(3, 300, 448\), got \(3, 301, 451\)"),
    (lambda img, s: img.numpy(), "expected a tensor"),
], ids=["bottom-right corner kept", "slice :-0 empties", "no crop", "numpy"])
def test_check_crop_for_scale_rejects_wrong_crops(crop, message):
    from course_lib.checks import check_crop_for_scale
    with pytest.raises(CheckError, match=message):
        check_crop_for_scale(crop)


# --- check_train_step --------------------------------------------------------------------------

def train_step_with(loss_fn=F.cross_entropy, zero_grad=True, step_first=False, do_step=True, item=True):
    def step(model, images, labels, optimizer):
        if zero_grad:
            optimizer.zero_grad()
        if step_first:
            optimizer.step()
        loss = loss_fn(model(images), labels)
        loss.backward()
        if do_step and not step_first:
            optimizer.step()
        return loss.item() if item else loss
    return step


def test_check_train_step_passes_a_correct_step(capsys):
    from course_lib.checks import check_train_step
    check_train_step(train_step_with())
    check_train_step(train_step_with(torch.nn.CrossEntropyLoss()))
    assert "train_step is correct" in capsys.readouterr().out


@pytest.mark.parametrize("step, message", [
    (train_step_with(zero_grad=False), r"already in \.grad(.|\n)*zero_grad"),
    (train_step_with(zero_grad=False, step_first=True), r"step\(\) ran before loss\.backward\(\)"),
    (train_step_with(do_step=False), "did not change the parameters"),
    (train_step_with(lambda logits, y: F.cross_entropy(logits.softmax(1), y)), "softmax before cross-entropy"),
    (train_step_with(lambda logits, y: F.cross_entropy(logits, y, reduction="sum")),
     r"points the right way but is 5\.00 times as long"),
    (train_step_with(lambda logits, y: F.nll_loss(logits, y)), "does not follow the mean cross-entropy"),
    (train_step_with(item=False), "returned a tensor"),
], ids=["no zero_grad", "step before backward", "no step", "softmax first", "sum", "nll on logits", "tensor"])
def test_check_train_step_names_the_broken_property(step, message):
    from course_lib.checks import check_train_step
    with pytest.raises(CheckError, match=message):
        check_train_step(step)


# --- check_reparameterize ----------------------------------------------------------------------

@pytest.mark.parametrize("sample", [
    lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn_like(mu),
    lambda mu, logvar: mu + logvar.mul(0.5).exp() * torch.randn(mu.shape),
], ids=["randn_like", "randn"])
def test_check_reparameterize_passes_correct_samplers(sample):
    from course_lib.checks import check_reparameterize
    state = torch.random.get_rng_state()
    check_reparameterize(sample)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's random state is restored


@pytest.mark.parametrize("sample, message", [
    (lambda mu, logvar: torch.normal(mu, torch.exp(0.5 * logvar)), "no gradient (back to|reaches) mu"),
    (lambda mu, logvar: mu + torch.exp(logvar) * torch.randn_like(mu), "exp\\(logvar\\), the variance"),
    (lambda mu, logvar: mu + logvar * torch.randn_like(mu), "standard deviation of z over the batch"),
    (lambda mu, logvar: mu + 0 * logvar, "no gradient reaches logvar"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.zeros_like(mu), "no gradient reaches logvar"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.rand_like(mu), "standard deviation|mean of z"),
    (lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn(len(mu), 1), "shared between the dimensions"),
    (lambda mu, logvar: mu[:1] + torch.exp(0.5 * logvar[:1]) * torch.randn_like(mu[:1]), "expected z of the shape"),
], ids=["torch.normal", "variance as std", "logvar as std", "no noise", "zero noise", "uniform noise", "shared noise", "one row"])
def test_check_reparameterize_names_the_broken_property(sample, message):
    from course_lib.checks import check_reparameterize
    with pytest.raises(CheckError, match=message):
        check_reparameterize(sample)



# --- check_median_filter -----------------------------------------------------------------------

def median_with(pad_mode="reflect", reduce=lambda w: w.median(dim=1).values, pad=True):
    def median(image, k):
        C, H, W = image.shape
        r = k // 2
        x = F.pad(image[None], (r, r, r, r), mode=pad_mode) if pad else image[None]  # (1, C, H + 2r, W + 2r)
        cols = F.unfold(x, k)  # (1, C * k * k, L)
        h, w = (H, W) if pad else (H - 2 * r, W - 2 * r)
        return reduce(cols.reshape(C, k * k, h, w))  # (C, H, W)
    return median


@pytest.mark.parametrize("pad_mode", ["reflect", "replicate"])
def test_check_median_filter_passes_correct_filters(pad_mode):
    from course_lib.checks import check_median_filter
    check_median_filter(median_with(pad_mode))


@pytest.mark.parametrize("median, message", [
    (median_with(reduce=lambda w: w.mean(dim=1)), "the mean of each window"),
    (median_with(pad=False), r"expected the input's shape \(2, 11, 13\)"),
    (median_with(reduce=lambda w: w.reshape(1, -1, *w.shape[2:]).median(dim=1).values.expand(len(w), -1, -1)),
     "not the median of their k x k window in their channel"),  # one median over all channels
    (lambda image, k: image, "not the median"),
], ids=["mean", "no padding", "channels mixed", "identity"])
def test_check_median_filter_names_the_broken_property(median, message):
    from course_lib.checks import check_median_filter
    with pytest.raises(CheckError, match=message):
        check_median_filter(median)


# --- check_confusion_matrix --------------------------------------------------------------------

def test_check_confusion_matrix_passes_the_library_function():
    from course_lib.checks import check_confusion_matrix
    from course_lib.metrics import confusion_matrix
    check_confusion_matrix(confusion_matrix)


@pytest.mark.parametrize("confusion, message", [
    (lambda p, t, K: torch.bincount(p.flatten() * K + t.flatten(), minlength=K * K).reshape(K, K), "rows are the predicted"),
    (lambda p, t, K: torch.bincount(t.flatten() * K + p.flatten()).reshape(-1, K), r"raised RuntimeError(.|\n)*minlength"),
    (lambda p, t, K: torch.bincount(t.flatten() * K + p.flatten())[:8].reshape(2, K), r"expected shape \(K, K\)"),
    (lambda p, t, K: torch.bincount(t.flatten() * K + p.flatten(), minlength=K * K).reshape(K, K) / p.numel(),
     "holds fractions"),
    (lambda p, t, K: torch.bincount(t[0].flatten() * K + p[0].flatten(), minlength=K * K).reshape(K, K),
     "counts 30 pixels, the maps have 60"),
], ids=["transposed", "no minlength", "two rows", "normalised", "first image only"])
def test_check_confusion_matrix_names_the_broken_property(confusion, message):
    from course_lib.checks import check_confusion_matrix
    with pytest.raises(CheckError, match=message):
        check_confusion_matrix(confusion)


# --- check_encoder_block -----------------------------------------------------------------------

def _pre_norm(block, x):
    x = x + block.self_attention(block.ln_1(x))
    return x + block.mlp(block.ln_2(x))


def test_check_encoder_block_passes_a_pre_norm_block():
    from course_lib.checks import check_encoder_block
    check_encoder_block(_pre_norm)
    check_encoder_block(lambda block, x: block(x))  # course_lib's EncoderBlock itself


@pytest.mark.parametrize("forward, message", [
    (lambda b, x: (lambda h: b.ln_2(h + b.mlp(h)))(b.ln_1(x + b.self_attention(x))), "post-norm"),
    (lambda b, x: (lambda h: h + b.mlp(b.ln_2(h)))(b.self_attention(b.ln_1(x))), "attention has no residual"),
    (lambda b, x: b.mlp(b.ln_2(x + b.self_attention(b.ln_1(x)))), "MLP has no residual"),
    (lambda b, x: x + b.self_attention(b.ln_1(x)) + b.mlp(b.ln_2(x)), "the MLP reads the block's input"),
    (lambda b, x: (lambda h: h + b.mlp(b.ln_1(h)))(x + b.self_attention(b.ln_2(x))), "LayerNorms are swapped"),
    (lambda b, x: (lambda h: h + b.mlp(b.ln_2(h)))(x + b.self_attention(b.ln_1(x)) * 2), "is not x \\+ MHSA"),
    (lambda b, x: _pre_norm(b, x)[:, 0], r"expected shape \(B, N, D\)"),
], ids=["post-norm", "no attention residual", "no MLP residual", "parallel branches", "swapped norms", "scaled",
        "class token only"])
def test_check_encoder_block_names_the_broken_property(forward, message):
    from course_lib.checks import check_encoder_block
    with pytest.raises(CheckError, match=message):
        check_encoder_block(forward)


# --- check_noise_loss --------------------------------------------------------------------------

def test_check_noise_loss_passes_correct_losses():
    from course_lib.checks import check_noise_loss
    check_noise_loss(lambda R, y, x: F.mse_loss(R(y), y - x))
    check_noise_loss(lambda R, y, x: ((y - R(y)) - x).pow(2).mean())  # the same loss on the denoised image


@pytest.mark.parametrize("loss_fn, message", [
    (lambda R, y, x: F.mse_loss(R(y), x), "the target is the clean image"),
    (lambda R, y, x: F.mse_loss(R(y), x - y), "wrong sign"),
    (lambda R, y, x: F.mse_loss(R(y), y - x, reduction="sum"), "summed, not averaged"),
    (lambda R, y, x: F.mse_loss(R(y), y - x).item(), "not a tensor"),
    (lambda R, y, x: F.mse_loss(R(y).detach(), y - x), "does not depend on the network"),
    (lambda R, y, x: F.l1_loss(R(y), y - x), "not the mean squared error"),
    (lambda R, y, x: (R(y) - (y - x)).pow(2).mean(dim=(1, 2, 3)), "expected a scalar loss"),
], ids=["clean target", "sign", "sum", "float", "detached", "L1", "per image"])
def test_check_noise_loss_names_the_broken_property(loss_fn, message):
    from course_lib.checks import check_noise_loss
    with pytest.raises(CheckError, match=message):
        check_noise_loss(loss_fn)


# --- check_unsharp_mask ------------------------------------------------------------------------

def test_check_unsharp_mask_passes_the_formula():
    from course_lib import classic
    from course_lib.checks import check_unsharp_mask
    check_unsharp_mask(lambda img, s, a: (img + a * (img - classic.gaussian_blur(img, s))).clamp(0, 1))
    check_unsharp_mask(lambda img, s, a: ((1 + a) * img - a * classic.gaussian_blur(img, s)).clamp(0, 1))


@pytest.mark.parametrize("sharpen, message", [
    (lambda img, s, a: img + a * (img - __import__("course_lib.classic").classic.gaussian_blur(img, s)), "leave \\[0, 1\\]"),
    (lambda img, s, a: (img + a * (__import__("course_lib.classic").classic.gaussian_blur(img, s) - img)).clamp(0, 1),
     "subtracted, not added"),
    (lambda img, s, a: (img + a * img).clamp(0, 1), "changes a flat image"),
    (lambda img, s, a: (a * (img - __import__("course_lib.classic").classic.gaussian_blur(img, s))).clamp(0, 1),
     "changes a flat image"),
    (lambda img, s, a: (img + a * (img - __import__("course_lib.classic").classic.gaussian_blur(img, 2 * s))).clamp(0, 1),
     "the values differ"),
    (lambda img, s, a: img[..., 1:-1, 1:-1], "expected the input's shape"),
], ids=["no clip", "detail subtracted", "no blur", "detail only", "other sigma", "cropped"])
def test_check_unsharp_mask_names_the_broken_property(sharpen, message):
    from course_lib.checks import check_unsharp_mask
    with pytest.raises(CheckError, match=message):
        check_unsharp_mask(sharpen)


# --- check_up_step -----------------------------------------------------------------------------

def test_check_up_step_passes_the_decoder_step():
    from course_lib.checks import check_up_step
    check_up_step(lambda block, below, skip: block.conv(torch.cat([block.up(below), skip], dim=1)))
    check_up_step(lambda block, below, skip: block(below, skip))


@pytest.mark.parametrize("up_step, message", [
    (lambda b, below, skip: b.conv(torch.cat([skip, b.up(below)], dim=1)), "the skip comes first"),
    (lambda b, below, skip: b.conv(torch.cat([b.up(below), torch.zeros_like(skip)], dim=1)), "does not reach the output"),
    (lambda b, below, skip: b.conv(b.up(below) + skip), "raised RuntimeError"),
    (lambda b, below, skip: b.conv(torch.cat([F.interpolate(below, scale_factor=2)[:, :4], skip], dim=1)),
     "not block.conv"),
    (lambda b, below, skip: torch.cat([b.up(below), skip], dim=1), r"expected shape \(2, 4, 6, 6\)"),
], ids=["skip first", "skip unused", "added", "interpolate", "no conv"])
def test_check_up_step_names_the_broken_property(up_step, message):
    from course_lib.checks import check_up_step
    with pytest.raises(CheckError, match=message):
        check_up_step(up_step)
