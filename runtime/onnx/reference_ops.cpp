// Float64 reference ops (see reference_ops.hpp). Spatial dims are padded to three (leading
// ones) so one loop nest serves 1-D, 2-D and 3-D.
#include "reference_ops.hpp"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "bnrt/error.hpp"

namespace bnrt::onnx::detail {
namespace {

constexpr std::size_t kSpatial = 3;

/// A per-spatial-dim parameter list padded at the front to three entries.
std::array<std::int64_t, kSpatial> pad3(const std::vector<std::int64_t>& values,
                                        std::int64_t fill) {
  std::array<std::int64_t, kSpatial> out;
  out.fill(fill);
  std::copy(values.begin(), values.end(), out.begin() + (kSpatial - values.size()));
  return out;
}

/// [begin, end) of output positions o for which o * stride - pad + tap stays in [0, size).
std::pair<std::int64_t, std::int64_t> valid_outputs(std::int64_t size, std::int64_t out,
                                                    std::int64_t stride, std::int64_t pad,
                                                    std::int64_t tap) {
  // o * stride >= pad - tap  and  o * stride <= size - 1 + pad - tap
  const std::int64_t low = pad - tap;
  const std::int64_t begin = low <= 0 ? 0 : (low + stride - 1) / stride;
  const std::int64_t high = size - 1 + pad - tap;
  const std::int64_t end = high < 0 ? 0 : std::min(out, high / stride + 1);
  return {std::min(begin, end), end};
}

[[noreturn]] void shape_error(const std::string& what) {
  throw Error(ErrorCode::shape_mismatch, "verify: " + what);
}

}  // namespace

std::int64_t product(const std::vector<std::int64_t>& dims, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < std::min(to, dims.size()); ++i) p *= dims[i];
  return p;
}

std::int64_t checked_count(const std::vector<std::int64_t>& dims) {
  std::int64_t count = 1;
  for (const std::int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(count, d, &count) || count > kMaxEvaluatedElements) {
      throw Error(ErrorCode::unsupported, "verify: a tensor of dims larger than " +
                                              std::to_string(kMaxEvaluatedElements) +
                                              " elements is not evaluated");
    }
  }
  return count;
}

Tensor64 conv(const Tensor64& x, const Tensor64& w, const std::vector<double>& b,
              const ConvGeometry& g) {
  if (w.rank() < 3 || x.rank() != w.rank() || g.group < 1 || w.dim(0) % g.group != 0) {
    shape_error("Conv input, weight and group do not fit together");
  }
  const std::int64_t batch = x.dim(0), channels = x.dim(1), out_channels = w.dim(0);
  const std::int64_t group_in = w.dim(1), group_out = out_channels / g.group;
  if (group_in * g.group != channels) shape_error("Conv input channels do not match the weight");
  if (!b.empty() && static_cast<std::int64_t>(b.size()) != out_channels) {
    shape_error("Conv bias length differs from the output channels");
  }
  const std::vector<std::int64_t> in_spatial(x.dims.begin() + 2, x.dims.end());
  const auto in = pad3(in_spatial, 1), out = pad3(g.output, 1);
  const auto kernel = pad3(std::vector<std::int64_t>(w.dims.begin() + 2, w.dims.end()), 1);
  const auto stride = pad3(g.strides, 1), dilation = pad3(g.dilations, 1);
  const auto pad = pad3(g.pads_begin, 0);
  Tensor64 y;
  y.dims = {batch, out_channels};
  y.dims.insert(y.dims.end(), g.output.begin(), g.output.end());
  const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  const std::int64_t taps = kernel[0] * kernel[1] * kernel[2];
  y.values.assign(static_cast<std::size_t>(checked_count(y.dims)), 0.0);
  tbb::parallel_for(std::int64_t{0}, batch * out_channels, [&](std::int64_t job) {
    const std::int64_t n = job / out_channels, oc = job % out_channels, grp = oc / group_out;
    double* dst = y.values.data() + static_cast<std::size_t>(job * out_plane);
    std::fill(dst, dst + out_plane, b.empty() ? 0.0 : b[static_cast<std::size_t>(oc)]);
    for (std::int64_t j = 0; j < group_in; ++j) {
      const double* src = x.values.data() +
                          static_cast<std::size_t>((n * channels + grp * group_in + j) * in_plane);
      const double* weights =
          w.values.data() + static_cast<std::size_t>((oc * group_in + j) * taps);
      for (std::int64_t k0 = 0; k0 < kernel[0]; ++k0) {
        const auto [d0, e0] = valid_outputs(in[0], out[0], stride[0], pad[0], k0 * dilation[0]);
        for (std::int64_t k1 = 0; k1 < kernel[1]; ++k1) {
          const auto [d1, e1] = valid_outputs(in[1], out[1], stride[1], pad[1], k1 * dilation[1]);
          for (std::int64_t k2 = 0; k2 < kernel[2]; ++k2) {
            const auto [d2, e2] = valid_outputs(in[2], out[2], stride[2], pad[2], k2 * dilation[2]);
            const double weight = weights[(k0 * kernel[1] + k1) * kernel[2] + k2];
            for (std::int64_t o0 = d0; o0 < e0; ++o0) {
              const std::int64_t i0 = o0 * stride[0] - pad[0] + k0 * dilation[0];
              for (std::int64_t o1 = d1; o1 < e1; ++o1) {
                const std::int64_t i1 = o1 * stride[1] - pad[1] + k1 * dilation[1];
                const double* row = src + (i0 * in[1] + i1) * in[2];
                double* out_row = dst + (o0 * out[1] + o1) * out[2];
                for (std::int64_t o2 = d2; o2 < e2; ++o2) {
                  out_row[o2] += weight * row[o2 * stride[2] - pad[2] + k2 * dilation[2]];
                }
              }
            }
          }
        }
      }
    }
  });
  return y;
}

Tensor64 conv_transpose(const Tensor64& x, const Tensor64& w, const std::vector<double>& b,
                        const ConvGeometry& g) {
  if (w.rank() < 3 || x.rank() != w.rank() || g.group < 1 || x.dim(1) % g.group != 0) {
    shape_error("ConvTranspose input, weight and group do not fit together");
  }
  const std::int64_t batch = x.dim(0), channels = x.dim(1);
  const std::int64_t group_in = channels / g.group, group_out = w.dim(1);
  const std::int64_t out_channels = group_out * g.group;
  if (w.dim(0) != channels) shape_error("ConvTranspose input channels do not match the weight");
  if (!b.empty() && static_cast<std::int64_t>(b.size()) != out_channels) {
    shape_error("ConvTranspose bias length differs from the output channels");
  }
  const auto in = pad3(std::vector<std::int64_t>(x.dims.begin() + 2, x.dims.end()), 1);
  const auto out = pad3(g.output, 1);
  const auto kernel = pad3(std::vector<std::int64_t>(w.dims.begin() + 2, w.dims.end()), 1);
  const auto stride = pad3(g.strides, 1), dilation = pad3(g.dilations, 1);
  const auto pad = pad3(g.pads_begin, 0);
  Tensor64 y;
  y.dims = {batch, out_channels};
  y.dims.insert(y.dims.end(), g.output.begin(), g.output.end());
  const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  const std::int64_t taps = kernel[0] * kernel[1] * kernel[2];
  y.values.assign(static_cast<std::size_t>(checked_count(y.dims)), 0.0);
  // Gather form, parallel over output planes: o = i * stride - pad + k * dilation.
  tbb::parallel_for(std::int64_t{0}, batch * out_channels, [&](std::int64_t job) {
    const std::int64_t n = job / out_channels, oc = job % out_channels;
    const std::int64_t grp = oc / group_out, j = oc % group_out;
    double* dst = y.values.data() + static_cast<std::size_t>(job * out_plane);
    std::fill(dst, dst + out_plane, b.empty() ? 0.0 : b[static_cast<std::size_t>(oc)]);
    for (std::int64_t c = grp * group_in; c < (grp + 1) * group_in; ++c) {
      const double* src = x.values.data() + static_cast<std::size_t>((n * channels + c) * in_plane);
      const double* weights =
          w.values.data() + static_cast<std::size_t>((c * group_out + j) * taps);
      for (std::int64_t i0 = 0; i0 < in[0]; ++i0) {
        for (std::int64_t i1 = 0; i1 < in[1]; ++i1) {
          for (std::int64_t i2 = 0; i2 < in[2]; ++i2) {
            const double value = src[(i0 * in[1] + i1) * in[2] + i2];
            for (std::int64_t k0 = 0; k0 < kernel[0]; ++k0) {
              const std::int64_t o0 = i0 * stride[0] - pad[0] + k0 * dilation[0];
              if (o0 < 0 || o0 >= out[0]) continue;
              for (std::int64_t k1 = 0; k1 < kernel[1]; ++k1) {
                const std::int64_t o1 = i1 * stride[1] - pad[1] + k1 * dilation[1];
                if (o1 < 0 || o1 >= out[1]) continue;
                for (std::int64_t k2 = 0; k2 < kernel[2]; ++k2) {
                  const std::int64_t o2 = i2 * stride[2] - pad[2] + k2 * dilation[2];
                  if (o2 < 0 || o2 >= out[2]) continue;
                  dst[(o0 * out[1] + o1) * out[2] + o2] +=
                      value * weights[(k0 * kernel[1] + k1) * kernel[2] + k2];
                }
              }
            }
          }
        }
      }
    }
  });
  return y;
}

Tensor64 gemm(const Tensor64& a, const Tensor64& b, const Tensor64* c, double alpha, double beta,
              bool trans_a, bool trans_b) {
  if (a.rank() != 2 || b.rank() != 2) shape_error("Gemm needs 2-D A and B");
  const std::int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  const std::int64_t n = trans_b ? b.dim(0) : b.dim(1);
  if ((trans_b ? b.dim(1) : b.dim(0)) != k) shape_error("Gemm inner dims differ");
  Tensor64 y{{m, n}, std::vector<double>(static_cast<std::size_t>(checked_count({m, n})), 0.0)};
  for (std::int64_t i = 0; i < m; ++i) {
    for (std::int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (std::int64_t p = 0; p < k; ++p) {
        const double av = trans_a ? a.values[static_cast<std::size_t>(p * m + i)]
                                  : a.values[static_cast<std::size_t>(i * k + p)];
        const double bv = trans_b ? b.values[static_cast<std::size_t>(j * k + p)]
                                  : b.values[static_cast<std::size_t>(p * n + j)];
        sum += av * bv;
      }
      y.values[static_cast<std::size_t>(i * n + j)] = alpha * sum;
    }
  }
  if (c != nullptr && beta != 0) {
    const Tensor64 scaled = map(*c, [beta](double v) { return beta * v; });
    y = broadcast(y, scaled, [](double u, double v) { return u + v; });
  }
  return y;
}

Tensor64 matmul(const Tensor64& a_in, const Tensor64& b_in) {
  if (a_in.rank() == 0 || b_in.rank() == 0) shape_error("MatMul of a scalar");
  Tensor64 a = a_in, b = b_in;
  const bool a_vector = a.rank() == 1, b_vector = b.rank() == 1;
  if (a_vector) a.dims.insert(a.dims.begin(), 1);
  if (b_vector) b.dims.push_back(1);
  const std::int64_t m = a.dims[a.rank() - 2], k = a.dims[a.rank() - 1];
  const std::int64_t n = b.dims[b.rank() - 1];
  if (b.dims[b.rank() - 2] != k) shape_error("MatMul inner dims differ");
  // Broadcast the batch dims.
  const std::size_t batch_rank = std::max(a.rank(), b.rank()) - 2;
  std::vector<std::int64_t> batch(batch_rank, 1), a_batch(batch_rank, 1), b_batch(batch_rank, 1);
  for (std::size_t i = 0; i < a.rank() - 2; ++i)
    a_batch[batch_rank - (a.rank() - 2) + i] = a.dims[i];
  for (std::size_t i = 0; i < b.rank() - 2; ++i)
    b_batch[batch_rank - (b.rank() - 2) + i] = b.dims[i];
  for (std::size_t i = 0; i < batch_rank; ++i) {
    if (a_batch[i] != b_batch[i] && a_batch[i] != 1 && b_batch[i] != 1) {
      shape_error("MatMul batch dims do not broadcast");
    }
    batch[i] = std::max(a_batch[i], b_batch[i]);
  }
  Tensor64 y;
  y.dims = batch;
  if (!a_vector) y.dims.push_back(m);
  if (!b_vector) y.dims.push_back(n);
  const std::int64_t batches = product(batch);
  y.values.assign(static_cast<std::size_t>(checked_count(y.dims)), 0.0);
  for (std::int64_t t = 0; t < batches; ++t) {
    std::int64_t a_offset = 0, b_offset = 0, rest = t, a_stride = 1, b_stride = 1;
    for (std::size_t i = batch_rank; i-- > 0;) {
      const std::int64_t coordinate = rest % batch[i];
      rest /= batch[i];
      a_offset += (a_batch[i] == 1 ? 0 : coordinate) * a_stride;
      b_offset += (b_batch[i] == 1 ? 0 : coordinate) * b_stride;
      a_stride *= a_batch[i];
      b_stride *= b_batch[i];
    }
    const double* pa = a.values.data() + static_cast<std::size_t>(a_offset * m * k);
    const double* pb = b.values.data() + static_cast<std::size_t>(b_offset * k * n);
    double* py = y.values.data() + static_cast<std::size_t>(t * m * n);
    for (std::int64_t i = 0; i < m; ++i) {
      for (std::int64_t p = 0; p < k; ++p) {
        const double av = pa[i * k + p];
        for (std::int64_t j = 0; j < n; ++j) py[i * n + j] += av * pb[p * n + j];
      }
    }
  }
  return y;
}

Tensor64 broadcast(const Tensor64& a, const Tensor64& b,
                   const std::function<double(double, double)>& op) {
  const std::size_t rank = std::max(a.rank(), b.rank());
  std::vector<std::int64_t> dims(rank), da(rank, 1), db(rank, 1);
  for (std::size_t i = 0; i < a.rank(); ++i) da[rank - a.rank() + i] = a.dims[i];
  for (std::size_t i = 0; i < b.rank(); ++i) db[rank - b.rank() + i] = b.dims[i];
  for (std::size_t i = 0; i < rank; ++i) {
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) shape_error("operands do not broadcast");
    dims[i] = da[i] == 1 ? db[i] : da[i];  // (a 1 against a 0 gives 0)
  }
  Tensor64 y{dims, std::vector<double>(static_cast<std::size_t>(checked_count(dims)))};
  std::vector<std::int64_t> index(rank, 0);
  for (std::size_t flat = 0; flat < y.values.size(); ++flat) {
    std::int64_t ia = 0, ib = 0;
    for (std::size_t i = 0; i < rank; ++i) {
      ia = ia * da[i] + (da[i] == 1 ? 0 : index[i]);
      ib = ib * db[i] + (db[i] == 1 ? 0 : index[i]);
    }
    y.values[flat] =
        op(a.values[static_cast<std::size_t>(ia)], b.values[static_cast<std::size_t>(ib)]);
    for (std::size_t i = rank; i-- > 0;) {
      if (++index[i] < dims[i]) break;
      index[i] = 0;
    }
  }
  return y;
}

Tensor64 map(const Tensor64& x, const std::function<double(double)>& op) {
  Tensor64 y = x;
  for (double& v : y.values) v = op(v);
  return y;
}

Tensor64 batch_norm(const Tensor64& x, const std::vector<double>& scale,
                    const std::vector<double>& bias, const std::vector<double>& mean,
                    const std::vector<double>& var, double eps) {
  if (x.rank() < 2 || static_cast<std::size_t>(x.dim(1)) != scale.size() ||
      bias.size() != scale.size() || mean.size() != scale.size() || var.size() != scale.size()) {
    shape_error("BatchNormalization parameters do not match the input's channels");
  }
  Tensor64 y = x;
  const std::int64_t channels = x.dim(1), inner = product(x.dims, 2);
  for (std::size_t i = 0; i < y.values.size(); ++i) {
    const auto c = static_cast<std::size_t>((static_cast<std::int64_t>(i) / inner) % channels);
    y.values[i] = (x.values[i] - mean[c]) / std::sqrt(var[c] + eps) * scale[c] + bias[c];
  }
  return y;
}

namespace {

/// Max and average pooling: `reduce` folds every in-range tap of a window into `start`.
template <class Reduce>
Tensor64 pool(const Tensor64& x, const PoolGeometry& g, double start, Reduce reduce, bool average) {
  const auto in = pad3(std::vector<std::int64_t>(x.dims.begin() + 2, x.dims.end()), 1);
  const auto out = pad3(g.output, 1), kernel = pad3(g.kernel, 1);
  const auto stride = pad3(g.strides, 1), dilation = pad3(g.dilations, 1);
  const auto pad = pad3(g.pads_begin, 0), pad_end = pad3(g.pads_end, 0);
  Tensor64 y;
  y.dims = {x.dim(0), x.dim(1)};
  y.dims.insert(y.dims.end(), g.output.begin(), g.output.end());
  const std::int64_t planes = x.dim(0) * x.dim(1);
  const std::int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
  y.values.resize(static_cast<std::size_t>(checked_count(y.dims)));
  for (std::int64_t p = 0; p < planes; ++p) {
    // Pointers as data() + offset throughout: a tensor may hold no values (a plane cropped to
    // nothing by Pad), where &values[0] would bind a reference to nothing.
    const double* src = x.values.data() + static_cast<std::size_t>(p * in_plane);
    for (std::int64_t o0 = 0; o0 < out[0]; ++o0) {
      for (std::int64_t o1 = 0; o1 < out[1]; ++o1) {
        for (std::int64_t o2 = 0; o2 < out[2]; ++o2) {
          double acc = start;
          std::int64_t counted = 0, window = 0;
          for (std::int64_t k0 = 0; k0 < kernel[0]; ++k0) {
            for (std::int64_t k1 = 0; k1 < kernel[1]; ++k1) {
              for (std::int64_t k2 = 0; k2 < kernel[2]; ++k2) {
                const std::int64_t i0 = o0 * stride[0] - pad[0] + k0 * dilation[0];
                const std::int64_t i1 = o1 * stride[1] - pad[1] + k1 * dilation[1];
                const std::int64_t i2 = o2 * stride[2] - pad[2] + k2 * dilation[2];
                // Positions inside the padded input count towards count_include_pad.
                if (i0 < in[0] + pad_end[0] && i1 < in[1] + pad_end[1] && i2 < in[2] + pad_end[2]) {
                  ++window;
                }
                if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= in[0] || i1 >= in[1] || i2 >= in[2]) {
                  continue;
                }
                acc = reduce(acc, src[(i0 * in[1] + i1) * in[2] + i2]);
                ++counted;
              }
            }
          }
          if (average) acc /= static_cast<double>(g.count_include_pad ? window : counted);
          y.values[static_cast<std::size_t>(p * out_plane + (o0 * out[1] + o1) * out[2] + o2)] =
              acc;
        }
      }
    }
  }
  return y;
}

}  // namespace

Tensor64 max_pool(const Tensor64& x, const PoolGeometry& g) {
  return pool(
      x, g, -std::numeric_limits<double>::infinity(),
      [](double a, double b) { return std::max(a, b); }, false);
}

Tensor64 average_pool(const Tensor64& x, const PoolGeometry& g) {
  return pool(
      x, g, 0.0, [](double a, double b) { return a + b; }, true);
}

Tensor64 global_pool(const Tensor64& x, bool max) {
  if (x.rank() < 3) shape_error("global pooling needs spatial dims");
  const std::int64_t planes = x.dim(0) * x.dim(1), inner = product(x.dims, 2);
  Tensor64 y;
  y.dims = {x.dim(0), x.dim(1)};
  y.dims.resize(x.rank(), 1);
  y.values.resize(static_cast<std::size_t>(planes));
  for (std::int64_t p = 0; p < planes; ++p) {
    const double* src = x.values.data() + static_cast<std::size_t>(p * inner);
    double acc = max ? -std::numeric_limits<double>::infinity() : 0.0;
    for (std::int64_t i = 0; i < inner; ++i) acc = max ? std::max(acc, src[i]) : acc + src[i];
    y.values[static_cast<std::size_t>(p)] = max ? acc : acc / static_cast<double>(inner);
  }
  return y;
}

Tensor64 concat(const std::vector<const Tensor64*>& inputs, std::int64_t axis) {
  if (inputs.empty()) shape_error("Concat without inputs");
  const Tensor64& first = *inputs.front();
  const auto a = static_cast<std::size_t>(axis);
  Tensor64 y;
  y.dims = first.dims;
  y.dims[a] = 0;
  for (const Tensor64* input : inputs) {
    if (input->rank() != first.rank()) shape_error("Concat inputs differ in rank");
    for (std::size_t d = 0; d < first.rank(); ++d) {
      if (d != a && input->dims[d] != first.dims[d]) shape_error("Concat inputs differ in shape");
    }
    y.dims[a] += input->dims[a];
  }
  const std::int64_t outer = product(first.dims, 0, a), inner = product(first.dims, a + 1);
  y.values.reserve(static_cast<std::size_t>(checked_count(y.dims)));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const Tensor64* input : inputs) {
      const std::int64_t chunk = input->dims[a] * inner;
      const auto begin = input->values.begin() + o * chunk;
      y.values.insert(y.values.end(), begin, begin + chunk);
    }
  }
  return y;
}

namespace {

/// Row-major strides of `dims`.
std::vector<std::int64_t> strides_of(const std::vector<std::int64_t>& dims) {
  std::vector<std::int64_t> strides(dims.size(), 1);
  for (std::size_t d = dims.size(); d-- > 1;) strides[d - 1] = strides[d] * dims[d];
  return strides;
}

/// Calls visit(flat, index) for every index of `dims`, in row-major order.
template <class Visit>
void for_each_index(const std::vector<std::int64_t>& dims, Visit&& visit) {
  const std::int64_t count = checked_count(dims);
  std::vector<std::int64_t> index(dims.size(), 0);
  for (std::int64_t flat = 0; flat < count; ++flat) {
    visit(flat, index);
    for (std::size_t d = dims.size(); d-- > 0;) {
      if (++index[d] < dims[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

Tensor64 pad_constant(const Tensor64& x, const std::vector<std::int64_t>& begin,
                      const std::vector<std::int64_t>& end, double value) {
  if (begin.size() != x.rank() || end.size() != x.rank()) shape_error("Pad pads and rank differ");
  Tensor64 y;
  for (std::size_t d = 0; d < x.rank(); ++d) {
    std::int64_t size = 0;
    if (__builtin_add_overflow(x.dims[d], begin[d], &size) ||
        __builtin_add_overflow(size, end[d], &size)) {
      shape_error("Pad pads are too large");
    }
    if (size < 0) shape_error("Pad crops below zero");
    y.dims.push_back(size);
  }
  y.values.assign(static_cast<std::size_t>(checked_count(y.dims)), value);
  const std::vector<std::int64_t> x_strides = strides_of(x.dims);
  for_each_index(y.dims, [&](std::int64_t flat, const std::vector<std::int64_t>& index) {
    std::int64_t source = 0;
    for (std::size_t d = 0; d < x.rank(); ++d) {
      const std::int64_t i = index[d] - begin[d];
      if (i < 0 || i >= x.dims[d]) return;  // padding
      source += i * x_strides[d];
    }
    y.values[static_cast<std::size_t>(flat)] = x.values[static_cast<std::size_t>(source)];
  });
  return y;
}

Tensor64 transpose(const Tensor64& x, const std::vector<std::int64_t>& perm) {
  if (perm.size() != x.rank()) shape_error("Transpose perm and rank differ");
  const std::vector<std::int64_t> x_strides = strides_of(x.dims);
  std::vector<bool> taken(x.rank(), false);
  Tensor64 y;
  for (const std::int64_t p : perm) {
    if (p < 0 || p >= static_cast<std::int64_t>(x.rank()) || taken[static_cast<std::size_t>(p)]) {
      shape_error("Transpose perm is not a permutation of the dims");
    }
    taken[static_cast<std::size_t>(p)] = true;
    y.dims.push_back(x.dims[static_cast<std::size_t>(p)]);
  }
  y.values.resize(static_cast<std::size_t>(checked_count(y.dims)));
  for_each_index(y.dims, [&](std::int64_t flat, const std::vector<std::int64_t>& index) {
    std::int64_t source = 0;
    for (std::size_t d = 0; d < perm.size(); ++d) {
      source += index[d] * x_strides[static_cast<std::size_t>(perm[d])];
    }
    y.values[static_cast<std::size_t>(flat)] = x.values[static_cast<std::size_t>(source)];
  });
  return y;
}

Tensor64 gather(const Tensor64& data, const Tensor64& indices, std::int64_t axis) {
  const auto a = static_cast<std::size_t>(axis);
  Tensor64 y;
  y.dims.assign(data.dims.begin(), data.dims.begin() + static_cast<std::ptrdiff_t>(a));
  y.dims.insert(y.dims.end(), indices.dims.begin(), indices.dims.end());
  y.dims.insert(y.dims.end(), data.dims.begin() + static_cast<std::ptrdiff_t>(a) + 1,
                data.dims.end());
  const std::int64_t outer = product(data.dims, 0, a), inner = product(data.dims, a + 1);
  y.values.reserve(static_cast<std::size_t>(checked_count(y.dims)));
  for (std::int64_t o = 0; o < outer; ++o) {
    for (const double index : indices.values) {
      const auto begin =
          data.values.begin() + (o * data.dims[a] + static_cast<std::int64_t>(index)) * inner;
      y.values.insert(y.values.end(), begin, begin + inner);
    }
  }
  return y;
}

Tensor64 slice(const Tensor64& data, const std::vector<std::int64_t>& starts,
               const std::vector<std::int64_t>& ends, const std::vector<std::int64_t>& axes,
               const std::vector<std::int64_t>& steps) {
  std::vector<std::int64_t> first(data.rank(), 0), step(data.rank(), 1);
  Tensor64 y;
  y.dims = data.dims;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const auto a = static_cast<std::size_t>(axes[i]);
    first[a] = starts[i];
    step[a] = steps[i];
    const std::int64_t span = ends[i] - starts[i];
    y.dims[a] = steps[i] > 0 ? std::max<std::int64_t>(0, (span + steps[i] - 1) / steps[i])
                             : std::max<std::int64_t>(0, (-span - steps[i] - 1) / -steps[i]);
  }
  const std::vector<std::int64_t> strides = strides_of(data.dims);
  y.values.resize(static_cast<std::size_t>(checked_count(y.dims)));
  for_each_index(y.dims, [&](std::int64_t flat, const std::vector<std::int64_t>& index) {
    std::int64_t source = 0;
    for (std::size_t d = 0; d < data.rank(); ++d)
      source += (first[d] + index[d] * step[d]) * strides[d];
    y.values[static_cast<std::size_t>(flat)] = data.values[static_cast<std::size_t>(source)];
  });
  return y;
}

Tensor64 reduce(const Tensor64& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                double start, const std::function<double(double, double)>& op, bool mean) {
  std::vector<bool> reduced(x.rank(), false);
  for (const std::int64_t a : axes) reduced[static_cast<std::size_t>(a)] = true;
  std::vector<std::int64_t> kept_dims;  // the output's dims with the reduced ones as 1s
  for (std::size_t d = 0; d < x.rank(); ++d) kept_dims.push_back(reduced[d] ? 1 : x.dims[d]);
  const std::vector<std::int64_t> out_strides = strides_of(kept_dims);
  Tensor64 y;
  y.values.assign(static_cast<std::size_t>(checked_count(kept_dims)), start);
  for_each_index(x.dims, [&](std::int64_t flat, const std::vector<std::int64_t>& index) {
    std::int64_t target = 0;
    for (std::size_t d = 0; d < x.rank(); ++d) {
      if (!reduced[d]) target += index[d] * out_strides[d];
    }
    double& acc = y.values[static_cast<std::size_t>(target)];
    acc = op(acc, x.values[static_cast<std::size_t>(flat)]);
  });
  if (mean) {
    const double count = static_cast<double>(product(x.dims)) /
                         static_cast<double>(std::max<std::int64_t>(1, product(kept_dims)));
    for (double& v : y.values) v /= count;
  }
  for (std::size_t d = 0; d < x.rank(); ++d) {
    if (!reduced[d] || keep_dims) y.dims.push_back(kept_dims[d]);
  }
  return y;
}

Tensor64 softmax(const Tensor64& x, std::int64_t axis, bool flatten_tail) {
  const auto a = static_cast<std::size_t>(axis);
  const std::int64_t outer = product(x.dims, 0, a);
  const std::int64_t length = flatten_tail ? product(x.dims, a) : x.dims[a];
  const std::int64_t inner = flatten_tail ? 1 : product(x.dims, a + 1);
  Tensor64 y = x;
  for (std::int64_t o = 0; o < outer; ++o) {
    for (std::int64_t i = 0; i < inner; ++i) {
      auto at = [&](std::int64_t l) -> double& {
        return y.values[static_cast<std::size_t>((o * length + l) * inner + i)];
      };
      double largest = -std::numeric_limits<double>::infinity(), sum = 0;
      for (std::int64_t l = 0; l < length; ++l) largest = std::max(largest, at(l));
      for (std::int64_t l = 0; l < length; ++l) sum += (at(l) = std::exp(at(l) - largest));
      for (std::int64_t l = 0; l < length; ++l) at(l) /= sum;
    }
  }
  return y;
}

}  // namespace bnrt::onnx::detail
