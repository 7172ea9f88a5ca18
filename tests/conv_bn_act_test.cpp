// ConvBnAct against a float64 reference: conv (tests/reference, written from the definition),
// then batch norm, residual and activation in double, never through the fold library.
// Sweeps kernel sizes, strides, padding (symmetric and not), dilation, groups (1, between,
// depthwise, depthwise with a multiplier), channel counts on and off vector multiples, batch
// 1 and 3, every epilogue, with and without BN / bias / residual, on every ISA this CPU runs and
// both layouts, on misaligned buffers with canaries; 1 and 2 threads must agree bit for bit.
//
// Tolerance: a float dot product of K terms accumulated with FMA (or multiply-add) is within
// K * u * sum |w' x| of the exact one (u = 2^-24; Higham's bound), the folded weights carry one
// more rounding each (u * sum |w' x|), and the bias, residual add and activation add a few u
// of the result's magnitude. So |y - y_ref| <= (K + 4) * u * (sum |w' x| + |b'| + |r|), with
// w' and b' the folded weights (|w'| = |w| |scale|) and SiLU adding 8 u |y| for exp.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "bnrt/conv_bn_act.hpp"
#include "reference/layer_reference.hpp"
#include "test_buffer.hpp"
#include "test_util.hpp"

namespace bnrt::testing {
namespace {

struct ConvCase {
  std::int64_t batch = 1, in = 1, out = 1, h = 1, w = 1, kh = 1, kw = 1, sh = 1, sw = 1;
  std::int64_t pt = 0, pl = 0, pb = 0, pr = 0, dh = 1, dw = 1, groups = 1;
  bool bn = true, bias = true, residual = false;
  ConvActivation act = ConvActivation::identity();

  Conv2dDesc desc() const {
    Conv2dDesc d;
    d.in_channels = in, d.out_channels = out, d.input_h = h, d.input_w = w;
    d.kernel_h = kh, d.kernel_w = kw, d.stride_h = sh, d.stride_w = sw;
    d.pad_top = pt, d.pad_left = pl, d.pad_bottom = pb, d.pad_right = pr;
    d.dilation_h = dh, d.dilation_w = dw, d.groups = groups;
    return d;
  }
  std::string text() const {
    // A stream, not a chain of operator+: GCC 12 warns (-Wrestrict, a false positive) on the
    // long concatenation.
    std::ostringstream s;
    s << "N" << batch << " " << in << "->" << out << " " << h << "x" << w << " k" << kh << "x" << kw
      << " s" << sh << "," << sw << " p" << pt << "," << pl << "," << pb << "," << pr << " d" << dh
      << "," << dw << " g" << groups << (bn ? " bn" : "") << (bias ? " bias" : "")
      << (residual ? " residual" : "") << " " << conv_activation_name(act);
    return s.str();
  }
};

double activate(double y, const ConvActivation& a) {
  switch (a.kind) {
    case ConvActivation::Kind::clamp:
      return std::min<double>(std::max<double>(y, a.bounds.lo), a.bounds.hi);
    case ConvActivation::Kind::leaky_relu:
      return y < 0 ? y * a.negative_slope : y;
    case ConvActivation::Kind::silu:
      return y / (1.0 + std::exp(-y));
  }
  return y;
}

/// NCHW <-> NHWC for one tensor of n images.
std::vector<float> to_layout(const std::vector<float>& nchw, std::int64_t n, std::int64_t c,
                             std::int64_t hw, Layout layout) {
  if (layout == Layout::nchw || nchw.empty()) return nchw;
  std::vector<float> out(nchw.size());
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t ch = 0; ch < c; ++ch)
      for (std::int64_t p = 0; p < hw; ++p)
        out[(i * hw + p) * c + ch] = nchw[(i * c + ch) * hw + p];
  return out;
}
std::size_t index_in(Layout layout, std::int64_t i, std::int64_t ch, std::int64_t p, std::int64_t c,
                     std::int64_t hw) {
  return static_cast<std::size_t>(layout == Layout::nchw ? (i * c + ch) * hw + p
                                                         : (i * hw + p) * c + ch);
}

std::vector<std::int64_t> dims(Layout layout, std::int64_t n, std::int64_t c, std::int64_t h,
                               std::int64_t w) {
  return layout == Layout::nchw ? std::vector<std::int64_t>{n, c, h, w}
                                : std::vector<std::int64_t>{n, h, w, c};
}

/// Runs the op on misaligned, canary-guarded buffers inside an arena of `threads`.
std::vector<float> run_op(ConvBnAct& op, const ConvCase& c, Layout layout,
                          const std::vector<float>& x, const std::vector<float>* residual,
                          int threads, std::size_t misalign) {
  const Conv2dDesc d = c.desc();
  const std::int64_t oh = d.output_h(), ow = d.output_w();
  TestBuffer src(x.size(), misalign),
      dst(static_cast<std::size_t>(c.batch * c.out * oh * ow), (misalign + 4) % 64);
  src.fill(x);
  const auto src_dims = dims(layout, c.batch, c.in, c.h, c.w);
  const auto dst_dims = dims(layout, c.batch, c.out, oh, ow);
  TestBuffer res(residual ? residual->size() : 0, (misalign + 8) % 64);
  if (residual) res.fill(*residual);
  tbb::task_arena(threads).execute([&] {
    if (residual) {
      op.run(ConstTensor(src.data(), src_dims, layout), ConstTensor(res.data(), dst_dims, layout),
             MutableTensor(dst.data(), dst_dims, layout));
    } else {
      op.run(ConstTensor(src.data(), src_dims, layout),
             MutableTensor(dst.data(), dst_dims, layout));
    }
  });
  EXPECT_TRUE(src.guards_intact() && dst.guards_intact() && res.guards_intact())
      << "wrote outside a tensor";
  std::vector<float> y(dst.size());
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = dst.get(i);
  return y;
}

void check_case(const ConvCase& c, Layout layout, std::uint64_t seed) {
  SCOPED_TRACE(c.text() + " " + std::string(layout_name(layout)) + " seed " + std::to_string(seed));
  auto rng = make_rng(seed);
  const Conv2dDesc d = c.desc();
  const std::int64_t oh = d.output_h(), ow = d.output_w(), icg = c.in / c.groups;
  const std::int64_t k = icg * c.kh * c.kw;
  const auto x = random_floats(rng, static_cast<std::size_t>(c.batch * c.in * c.h * c.w), -1, 1);
  const auto w = random_floats(rng, static_cast<std::size_t>(c.out * k), -1, 1);
  const auto b = random_floats(rng, c.bias ? static_cast<std::size_t>(c.out) : 0, -1, 1);
  const RandomStats stats(rng, static_cast<std::size_t>(c.out));
  const std::size_t out_elems = static_cast<std::size_t>(c.batch * c.out * oh * ow);
  const auto r = random_floats(rng, c.residual ? out_elems : 0, -2, 2);

  // Reference, channels-first, in double.
  reference::ConvShape shape;
  shape.batch = c.batch, shape.in_channels = c.in, shape.out_channels = c.out;
  shape.groups = c.groups, shape.input = {c.h, c.w}, shape.kernel = {c.kh, c.kw};
  shape.stride = {c.sh, c.sw}, shape.dilation = {c.dh, c.dw};
  shape.pad_begin = {c.pt, c.pl}, shape.pad_end = {c.pb, c.pr}, shape.output_padding = {0, 0};
  const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()), bd(b.begin(), b.end());
  const auto conv = reference::conv(shape, xd, wd, c.bias ? &bd : nullptr);
  const auto conv_abs = reference::conv(shape, xd, wd, c.bias ? &bd : nullptr, true);

  ConvBnActOptions options;
  options.layout = layout;
  options.activation = c.act;
  options.residual = c.residual;
  const BatchNormParams params = stats.params();
  ConvBnAct op = ConvBnAct::create(d, w, b, c.bn ? &params : nullptr, options);

  const auto x_l = to_layout(x, c.batch, c.in, c.h * c.w, layout);
  const auto r_l = to_layout(r, c.batch, c.out, oh * ow, layout);
  const auto y1 = run_op(op, c, layout, x_l, c.residual ? &r_l : nullptr, 1, 4);
  const auto y2 = run_op(op, c, layout, x_l, c.residual ? &r_l : nullptr, 2, 12);
  ASSERT_EQ(0, std::memcmp(y1.data(), y2.data(), y1.size() * sizeof(float)))
      << "1 and 2 threads differ";

  constexpr double u = 0x1p-24;
  const std::int64_t hw = oh * ow;
  int reported = 0;
  for (std::int64_t i = 0; i < c.batch; ++i) {
    for (std::int64_t ch = 0; ch < c.out; ++ch) {
      double scale = 1, shift = 0;
      if (c.bn) {
        const auto cc = static_cast<std::size_t>(ch);
        scale = (stats.gamma[cc]) / std::sqrt(double(stats.var[cc]) + double(stats.eps));
        shift = double(stats.beta[cc]) - double(stats.mean[cc]) * scale;
      }
      for (std::int64_t p = 0; p < hw; ++p) {
        const std::size_t ref_at = static_cast<std::size_t>((i * c.out + ch) * hw + p);
        double y = conv[ref_at] * scale + shift;
        double magnitude = conv_abs[ref_at] * std::fabs(scale) + std::fabs(shift);
        if (c.residual) {
          y += r[ref_at];
          magnitude += std::fabs(r[ref_at]);
        }
        y = activate(y, c.act);
        double bound = static_cast<double>(k + 4) * u * magnitude;
        if (c.act.kind == ConvActivation::Kind::silu) bound += 8 * u * std::fabs(y) + 1e-30;
        const double got = y1[index_in(layout, i, ch, p, c.out, hw)];
        if (!(std::fabs(got - y) <= bound) && reported++ < 5) {
          ADD_FAILURE() << "n " << i << " c " << ch << " pixel " << p << ": got " << got << " want "
                        << y << " (bound " << bound << ")";
        }
      }
    }
  }
}

ConvActivation activation_for(std::size_t i) {
  switch (i % 6) {
    case 0:
      return ConvActivation::identity();
    case 1:
      return ConvActivation::relu();
    case 2:
      return ConvActivation::relu6();
    case 3:
      return ConvActivation::leaky_relu(0.1f);
    case 4:
      return ConvActivation::silu();
    default:
      return ConvActivation::clamp(-0.5f, 0.75f);
  }
}

/// Random cases over the sweep the issue names; the kernel always fits the padded input.
std::vector<ConvCase> sweep_cases() {
  auto rng = make_rng(0xc0417);
  const auto pick = [&](std::initializer_list<std::int64_t> values) {
    std::uniform_int_distribution<std::size_t> d(0, values.size() - 1);
    return *(values.begin() + d(rng));
  };
  std::vector<ConvCase> cases;
  for (std::size_t i = 0; cases.size() < 48; ++i) {
    ConvCase c;
    c.batch = pick({1, 1, 3});
    c.kh = pick({1, 3, 5, 7});
    c.kw = pick({1, 3, 5, 7}) == 1 ? 1 : c.kh;  // mostly square, some k x 1
    c.sh = pick({1, 2}), c.sw = pick({1, 2});
    c.dh = pick({1, 1, 2}), c.dw = c.dh;
    switch (pick({0, 1, 2, 3})) {
      case 0:
        c.pt = c.pl = c.pb = c.pr = 0;
        break;
      case 1:
        c.pt = c.pl = c.pb = c.pr = 1;
        break;
      case 2:
        c.pt = c.pl = c.pb = c.pr = 3;
        break;
      default:
        c.pt = pick({0, 1, 2}), c.pl = pick({0, 1, 3}), c.pb = pick({0, 2}), c.pr = pick({1, 3});
    }
    switch (pick({0, 0, 1, 2, 3})) {
      case 0:  // dense
        c.in = pick({1, 3, 15, 16, 17, 33, 64});
        c.out = pick({1, 3, 15, 16, 17, 33, 64});
        break;
      case 1:  // depthwise
        c.in = c.out = c.groups = pick({1, 3, 15, 16, 17, 33, 64});
        break;
      case 2:  // depthwise with a channel multiplier
        c.in = c.groups = pick({3, 16, 17});
        c.out = 2 * c.in;
        break;
      default:  // groups in between
        c.groups = pick({2, 3, 4});
        c.in = c.groups * pick({1, 3, 5, 8});
        c.out = c.groups * pick({1, 3, 16, 17});
    }
    c.h = pick({1, 2, 5, 8, 11, 14});
    c.w = pick({1, 3, 7, 9, 16});
    if (c.dh * (c.kh - 1) + 1 > c.h + c.pt + c.pb || c.dw * (c.kw - 1) + 1 > c.w + c.pl + c.pr)
      continue;
    c.bn = i % 3 != 0, c.bias = i % 4 != 1, c.residual = i % 2 == 1;
    c.act = activation_for(i);
    cases.push_back(c);
  }
  return cases;
}

/// ResNet-50 and MobileNetV2 layer types, spatially shrunk to keep the float64 reference quick.
std::vector<ConvCase> network_cases() {
  std::vector<ConvCase> cases;
  const auto add = [&](std::int64_t in, std::int64_t out, std::int64_t hw, std::int64_t k,
                       std::int64_t s, std::int64_t p, std::int64_t g, bool residual) {
    ConvCase c;
    c.in = in, c.out = out, c.h = c.w = hw, c.kh = c.kw = k, c.sh = c.sw = s;
    c.pt = c.pl = c.pb = c.pr = p, c.groups = g, c.residual = residual, c.bias = false;
    c.act = ConvActivation::relu();
    cases.push_back(c);
  };
  add(64, 64, 12, 3, 1, 1, 1, false);   // resnet 3x3
  add(256, 64, 9, 1, 1, 0, 1, false);   // resnet 1x1 reduce
  add(64, 256, 7, 1, 1, 0, 1, true);    // resnet 1x1 expand + residual
  add(128, 128, 9, 3, 2, 1, 1, false);  // resnet 3x3 stride 2
  add(3, 64, 23, 7, 2, 3, 1, false);    // resnet stem
  // Stems on wider rows, so that whole tiles of pixels have every tap of a kernel row inside
  // the image (read as one run of kernel_w x channels) next to tiles that touch the padding.
  add(3, 64, 15, 7, 2, 3, 1, false);
  cases.back().w = 41;
  add(3, 32, 9, 3, 2, 1, 1, true);  // mobilenet stem
  cases.back().w = 53;
  add(144, 144, 13, 3, 1, 1, 144, false);  // mobilenet depthwise
  add(144, 144, 13, 3, 2, 1, 144, false);  // mobilenet depthwise stride 2
  add(24, 144, 10, 1, 1, 0, 1, false);     // mobilenet expand
  cases.back().act = ConvActivation::relu6();
  // 1x1 on planes big enough for the channels-first GEMM along pixels (>= 8 tiles of pixels
  // on every ISA), with a short last tile, channel tiles cut short, groups and a residual.
  add(17, 15, 23, 1, 1, 0, 1, false);
  add(24, 36, 23, 1, 1, 0, 3, true);
  cases.back().act = ConvActivation::silu();
  // Channel counts that are multiples of 512: channels-first input goes through a scratch
  // image with a padded pixel stride (1x1 on a small plane, 3x3 with padding, two groups).
  add(1024, 40, 5, 1, 1, 0, 1, false);
  add(512, 24, 5, 3, 1, 1, 1, true);
  add(1024, 34, 4, 3, 2, 1, 2, false);
  return cases;
}

/// Depthwise shapes on the kernel's fast paths (3x3 and 5x5, stride 1 and 2, no dilation):
/// rows of 1 to 37 pixels, so tiles are whole, clipped at the left and right padding, short at
/// the row's end, or all three; partial channel blocks; asymmetric padding.
std::vector<ConvCase> depthwise_cases() {
  std::vector<ConvCase> cases;
  std::size_t i = 0;
  for (const std::int64_t k : {3, 5}) {
    for (const std::int64_t s : {1, 2}) {
      // Widths on and off the vector edges (NCHW vectorizes along the row; 80 at stride 2 takes
      // the wide channels-first tiles on AVX-512); heights that leave the channels-first
      // kernels' 4-row blocks full, short by one, and short by three.
      for (const std::int64_t w : {1, 6, 16, 17, 19, 33, 37, 80}) {
        ConvCase c;
        c.in = c.out = c.groups = i % 2 == 0 ? 17 : 33;
        c.h = i % 3 == 0 ? 4 : i % 3 == 1 ? 7 : 9;
        c.w = w, c.kh = c.kw = k, c.sh = c.sw = s;
        c.pt = c.pb = k / 2;
        c.pl = i % 3 == 0 ? 0 : k / 2, c.pr = i % 3 == 1 ? k / 2 + 1 : k / 2;
        // Padding wider than the kernel reach: whole windows and rows of zeros.
        if (i % 5 == 4) c.pt = c.pl = k, c.pb = k - 1;
        if (c.kw > c.w + c.pl + c.pr) c.pl = c.pr = k / 2;
        c.bn = true, c.bias = i % 2 == 0, c.residual = i % 3 == 2;
        c.act = activation_for(i);
        cases.push_back(c);
        ++i;
      }
    }
  }
  return cases;
}

class ConvBnActSweep : public ::testing::TestWithParam<std::tuple<Isa, Layout>> {};

TEST_P(ConvBnActSweep, MatchesFloat64Reference) {
  const auto [isa, layout] = GetParam();
  if (!isa_supported(isa)) GTEST_SKIP() << isa_name(isa) << " not supported here";
  const IsaScope scope(isa);
  std::uint64_t seed = 100;
  for (const ConvCase& c : sweep_cases()) check_case(c, layout, seed++);
  for (const ConvCase& c : network_cases()) check_case(c, layout, seed++);
  for (const ConvCase& c : depthwise_cases()) check_case(c, layout, seed++);
}

INSTANTIATE_TEST_SUITE_P(AllIsasAndLayouts, ConvBnActSweep,
                         ::testing::Combine(::testing::Values(Isa::scalar, Isa::sse2, Isa::avx2,
                                                              Isa::avx512),
                                            ::testing::Values(Layout::nhwc, Layout::nchw)),
                         [](const auto& info) {
                           return std::string(isa_name(std::get<0>(info.param))) + "_" +
                                  std::string(layout_name(std::get<1>(info.param)));
                         });

TEST(ConvBnAct, PicksTheAlgorithmAndReportsTheFold) {
  auto rng = make_rng(7);
  Conv2dDesc d;
  d.in_channels = d.out_channels = d.groups = 8;
  d.input_h = d.input_w = 5, d.kernel_h = d.kernel_w = 3;
  const auto w = random_floats(rng, 8 * 9, -1, 1);
  const RandomStats stats(rng, 8);
  const BatchNormParams params = stats.params();
  const ConvBnAct dw = ConvBnAct::create(d, w, {}, &params);
  EXPECT_EQ(dw.algorithm(), ConvAlgorithm::depthwise);
  EXPECT_EQ(dw.macs_per_image(), 8 * 3 * 3 * 9);
  // folded weight = w * gamma / sqrt(var + eps), rounded once.
  const double scale0 = stats.gamma[0] / std::sqrt(double(stats.var[0]) + double(stats.eps));
  EXPECT_EQ(dw.folded_weight()[0], static_cast<float>(w[0] * scale0));
  d.groups = 1;
  const auto w2 = random_floats(rng, 8 * 8 * 9, -1, 1);
  EXPECT_EQ(ConvBnAct::create(d, w2, {}, nullptr).algorithm(), ConvAlgorithm::gemm);
}

TEST(ConvBnAct, CopiesShareWeightsButNotScratch) {
  auto rng = make_rng(8);
  Conv2dDesc d;
  d.in_channels = 5, d.out_channels = 7, d.input_h = 6, d.input_w = 4;
  d.kernel_h = d.kernel_w = 3, d.pad_top = d.pad_left = d.pad_bottom = d.pad_right = 1;
  const auto w = random_floats(rng, 7 * 5 * 9, -1, 1);
  ConvBnActOptions options;
  options.layout = Layout::nchw;
  ConvBnAct a = ConvBnAct::create(d, w, {}, nullptr, options);
  ConvBnAct b = a;
  EXPECT_EQ(a.folded_weight().data(), b.folded_weight().data());
  const auto x = random_floats(rng, 2 * 5 * 24, -1, 1);
  std::vector<float> ya(2 * 7 * 24), yb(ya.size());
  a.run(ConstTensor(x.data(), {2, 5, 6, 4}, Layout::nchw),
        MutableTensor(ya.data(), {2, 7, 6, 4}, Layout::nchw));
  tbb::task_arena(2).execute([&] {
    b.run(ConstTensor(x.data(), {2, 5, 6, 4}, Layout::nchw),
          MutableTensor(yb.data(), {2, 7, 6, 4}, Layout::nchw));
  });
  EXPECT_EQ(ya, yb);
}

TEST(ConvBnAct, ResidualMayAliasDst) {
  auto rng = make_rng(9);
  Conv2dDesc d;
  d.in_channels = 16, d.out_channels = 17, d.input_h = d.input_w = 5;
  const auto w = random_floats(rng, 17 * 16, -1, 1);
  ConvBnActOptions options;
  options.residual = true;
  options.activation = ConvActivation::relu();
  ConvBnAct op = ConvBnAct::create(d, w, {}, nullptr, options);
  const auto x = random_floats(rng, 25 * 16, -1, 1);
  const auto r = random_floats(rng, 25 * 17, -1, 1);
  std::vector<float> separate(r.size()), in_place = r;
  const ConstTensor src(x.data(), {1, 5, 5, 16}, Layout::nhwc);
  op.run(src, ConstTensor(r.data(), {1, 5, 5, 17}, Layout::nhwc),
         MutableTensor(separate.data(), {1, 5, 5, 17}, Layout::nhwc));
  op.run(src, ConstTensor(in_place.data(), {1, 5, 5, 17}, Layout::nhwc),
         MutableTensor(in_place.data(), {1, 5, 5, 17}, Layout::nhwc));
  EXPECT_EQ(separate, in_place);
}

// ---- errors ------------------------------------------------------------------------------

template <class F>
void expect_error(ErrorCode code, const std::string& fragment, F&& f) {
  try {
    f();
    ADD_FAILURE() << "no error; expected " << error_code_name(code) << " with '" << fragment << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ConvBnActErrors, CreateRejectsBadDescriptions) {
  Conv2dDesc d;
  d.in_channels = 4, d.out_channels = 6, d.input_h = d.input_w = 4;
  d.kernel_h = d.kernel_w = 3;
  std::vector<float> w(6 * 4 * 9, 0.5f);
  const auto create = [&](const Conv2dDesc& desc, std::span<const float> weights,
                          std::span<const float> bias = {}, const BatchNormParams* bn = nullptr,
                          ConvBnActOptions options = {}) {
    return [=] { ConvBnAct::create(desc, weights, bias, bn, options); };
  };
  Conv2dDesc bad = d;
  bad.kernel_h = 0;
  expect_error(ErrorCode::invalid_argument, "kernel_h = 0 must be positive", create(bad, w));
  bad = d, bad.pad_left = -1;
  expect_error(ErrorCode::invalid_argument, "pad_left = -1 is negative", create(bad, w));
  bad = d, bad.groups = 4;
  expect_error(ErrorCode::channel_mismatch, "groups = 4 does not divide", create(bad, w));
  bad = d, bad.kernel_h = bad.kernel_w = 5;
  expect_error(ErrorCode::shape_mismatch, "larger than the padded input",
               create(bad, std::vector<float>(6 * 4 * 25)));
  bad = d, bad.dilation_h = 2;
  expect_error(ErrorCode::shape_mismatch, "kernel 5x3 (with dilation) is larger", create(bad, w));
  expect_error(ErrorCode::shape_mismatch, "weight has 215 elements but [6, 4, 3, 3] needs 216",
               create(d, std::span<const float>(w).first(215)));
  const std::vector<float> bias(5, 0.0f);
  expect_error(ErrorCode::channel_mismatch, "bias has 5 entries but out_channels = 6",
               create(d, w, bias));
  const std::vector<float> ones(5, 1.0f), zeros(5, 0.0f);
  const BatchNormParams short_bn{zeros, ones, {}, {}, 1e-5};
  expect_error(ErrorCode::channel_mismatch, "batch norm has 5 channels but out_channels = 6",
               create(d, w, {}, &short_bn));
  std::vector<float> var(6, 1.0f), mean(6, 0.0f);
  var[2] = -1.0f;
  const BatchNormParams negative{mean, var, {}, {}, 1e-5};
  expect_error(ErrorCode::invalid_statistics, "conv_bn_act: var[2] = -1 is negative",
               create(d, w, {}, &negative));
  ConvBnActOptions options;
  options.layout = Layout::ncdhw;
  expect_error(ErrorCode::invalid_argument, "layout ncdhw is not supported",
               create(d, w, {}, nullptr, options));
  options = {};
  options.activation = ConvActivation::clamp(1.0f, 0.0f);
  expect_error(ErrorCode::invalid_argument, "lo = 1 is above hi = 0",
               create(d, w, {}, nullptr, options));
  options.activation = ConvActivation::leaky_relu(std::numeric_limits<float>::infinity());
  expect_error(ErrorCode::invalid_argument, "negative_slope = inf is not finite",
               create(d, w, {}, nullptr, options));
  options = {};
  options.max_threads = -2;
  expect_error(ErrorCode::invalid_argument, "max_threads = -2", create(d, w, {}, nullptr, options));
  // A fold that overflows float is refused, not rounded to infinity.
  std::vector<float> big_w(w.size(), 3e38f), gamma(6, 1e3f);
  const std::vector<float> unit_var(6, 1.0f);
  const BatchNormParams huge{mean, unit_var, gamma, {}, 1e-5};
  expect_error(ErrorCode::overflow, "", create(d, big_w, {}, &huge));
}

TEST(ConvBnActErrors, RunRejectsBadTensors) {
  Conv2dDesc d;
  d.in_channels = 4, d.out_channels = 6, d.input_h = d.input_w = 4;
  d.kernel_h = d.kernel_w = 3;
  const std::vector<float> w(6 * 4 * 9, 0.5f);
  ConvBnAct op = ConvBnAct::create(d, w, {}, nullptr);
  std::vector<float> x(2 * 4 * 16, 1.0f), y(2 * 6 * 4, 0.0f), big(4096, 0.0f);
  const ConstTensor src(x.data(), {2, 4, 4, 4}, Layout::nhwc);
  const MutableTensor dst(y.data(), {2, 2, 2, 6}, Layout::nhwc);
  op.run(src, dst);  // the good call
  expect_error(ErrorCode::shape_mismatch, "src layout is nchw but the op was created for nhwc",
               [&] {
                 op.run(ConstTensor(x.data(), {2, 4, 4, 4}, Layout::nchw), dst);
               });
  expect_error(ErrorCode::channel_mismatch, "src", [&] {
    op.run(ConstTensor(x.data(), {2, 4, 8, 2}, Layout::nhwc), dst);
  });
  expect_error(ErrorCode::shape_mismatch, "src is nhwc {2, 8, 2, 4} but the op needs {N, 4, 4, 4}",
               [&] {
                 op.run(ConstTensor(x.data(), {2, 8, 2, 4}, Layout::nhwc), dst);
               });
  expect_error(ErrorCode::shape_mismatch, "dst is nhwc {2, 4, 1, 6} but the op needs {N, 2, 2, 6}",
               [&] {
                 op.run(src, MutableTensor(y.data(), {2, 4, 1, 6}, Layout::nhwc));
               });
  expect_error(ErrorCode::shape_mismatch, "dst batch 1 differs from src batch 2", [&] {
    op.run(src, MutableTensor(y.data(), {1, 2, 2, 6}, Layout::nhwc));
  });
  expect_error(ErrorCode::null_pointer, "src", [&] {
    op.run(ConstTensor(nullptr, {2, 4, 4, 4}, Layout::nhwc), dst);
  });
  expect_error(ErrorCode::overlap, "dst overlaps src", [&] {
    op.run(ConstTensor(big.data(), {2, 4, 4, 4}, Layout::nhwc),
           MutableTensor(big.data() + 10, {2, 2, 2, 6}, Layout::nhwc));
  });
  expect_error(ErrorCode::invalid_argument, "residual = false but a residual tensor was passed",
               [&] {
                 op.run(src, ConstTensor(y.data(), {2, 2, 2, 6}, Layout::nhwc), dst);
               });
  ConvBnActOptions with_residual;
  with_residual.residual = true;
  ConvBnAct op2 = ConvBnAct::create(d, w, {}, nullptr, with_residual);
  expect_error(ErrorCode::invalid_argument, "pass the residual tensor", [&] { op2.run(src, dst); });
  expect_error(ErrorCode::shape_mismatch, "residual", [&] {
    op2.run(src, ConstTensor(big.data(), {2, 2, 3, 6}, Layout::nhwc), dst);
  });
  expect_error(ErrorCode::overlap, "", [&] {
    op2.run(src, ConstTensor(y.data() + 1, {2, 2, 2, 6}, Layout::nhwc), dst);
  });
}

}  // namespace
}  // namespace bnrt::testing
