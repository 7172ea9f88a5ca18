// Naive float64 convolution, transposed convolution and linear layers, written from their
// definitions for 1 to 3 spatial dims, any groups, stride, dilation, asymmetric padding and
// output padding. Channels-first activations. With `absolute`, every product and the bias
// enter as absolute values: the magnitude sum |w| |x| + |b| that rounding errors scale with.
// Shares no code with the runtime.
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace bnrt::reference {

struct ConvShape {
  std::int64_t batch = 1, in_channels = 1, out_channels = 1, groups = 1;
  std::vector<std::int64_t> input;  ///< spatial input size, 1 to 3 dims
  std::vector<std::int64_t> kernel, stride, dilation, pad_begin, pad_end, output_padding;

  std::size_t spatial() const { return input.size(); }
  /// Spatial output size of the convolution (transposed: of the transposed convolution).
  std::vector<std::int64_t> output(bool transposed) const {
    std::vector<std::int64_t> out(spatial());
    for (std::size_t d = 0; d < spatial(); ++d) {
      const std::int64_t span = dilation[d] * (kernel[d] - 1) + 1;
      out[d] = transposed ? (input[d] - 1) * stride[d] - pad_begin[d] - pad_end[d] + span +
                                output_padding[d]
                          : (input[d] + pad_begin[d] + pad_end[d] - span) / stride[d] + 1;
    }
    return out;
  }
};

namespace detail_reference {
inline std::int64_t product(const std::vector<std::int64_t>& v) {
  std::int64_t p = 1;
  for (auto x : v) p *= x;
  return p;
}
/// Row-major index of `position` (padded to 3 dims with leading 1s in `sizes`).
inline void unravel(std::int64_t flat, const std::vector<std::int64_t>& sizes,
                    std::array<std::int64_t, 3>& position) {
  for (std::size_t d = sizes.size(); d-- > 0;) {
    position[d] = flat % sizes[d];
    flat /= sizes[d];
  }
}
}  // namespace detail_reference

/// y[n, oc, o] = b[oc] + sum_{j, k} w[oc, j, k] * x[n, g * IC/g + j, o * stride - pad + k *
/// dilation] with w [OC, IC/g, k...], x [N, IC, in...]; returns y [N, OC, out...].
inline std::vector<double> conv(const ConvShape& s, const std::vector<double>& x,
                                const std::vector<double>& w, const std::vector<double>* bias,
                                bool absolute = false) {
  using namespace detail_reference;
  const auto out = s.output(false);
  const std::int64_t in_size = product(s.input), out_size = product(out),
                     k_size = product(s.kernel);
  const std::int64_t in_per_group = s.in_channels / s.groups,
                     out_per_group = s.out_channels / s.groups;
  std::vector<double> y(static_cast<std::size_t>(s.batch * s.out_channels * out_size));
  std::array<std::int64_t, 3> o{}, k{};
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (std::int64_t oc = 0; oc < s.out_channels; ++oc) {
      const std::int64_t g = oc / out_per_group;
      for (std::int64_t op = 0; op < out_size; ++op) {
        unravel(op, out, o);
        double acc = bias ? (absolute ? std::fabs((*bias)[static_cast<std::size_t>(oc)])
                                      : (*bias)[static_cast<std::size_t>(oc)])
                          : 0.0;
        for (std::int64_t j = 0; j < in_per_group; ++j) {
          const std::int64_t ic = g * in_per_group + j;
          for (std::int64_t kp = 0; kp < k_size; ++kp) {
            unravel(kp, s.kernel, k);
            std::int64_t ip = 0;
            bool inside = true;
            for (std::size_t d = 0; d < s.spatial(); ++d) {
              const std::int64_t at = o[d] * s.stride[d] - s.pad_begin[d] + k[d] * s.dilation[d];
              inside = inside && at >= 0 && at < s.input[d];
              ip = ip * s.input[d] + at;
            }
            if (!inside) continue;
            const double wv = w[static_cast<std::size_t>((oc * in_per_group + j) * k_size + kp)];
            const double xv = x[static_cast<std::size_t>((n * s.in_channels + ic) * in_size + ip)];
            acc += absolute ? std::fabs(wv * xv) : wv * xv;
          }
        }
        y[static_cast<std::size_t>((n * s.out_channels + oc) * out_size + op)] = acc;
      }
    }
  }
  return y;
}

/// Transposed convolution: every input position p scatters x[n, i, p] * w[i, j, k] to output
/// position p * stride - pad_begin + k * dilation of channel g * OC/g + j, with w [IC, OC/g, k...].
inline std::vector<double> conv_transpose(const ConvShape& s, const std::vector<double>& x,
                                          const std::vector<double>& w,
                                          const std::vector<double>* bias, bool absolute = false) {
  using namespace detail_reference;
  const auto out = s.output(true);
  const std::int64_t in_size = product(s.input), out_size = product(out),
                     k_size = product(s.kernel);
  const std::int64_t in_per_group = s.in_channels / s.groups,
                     out_per_group = s.out_channels / s.groups;
  std::vector<double> y(static_cast<std::size_t>(s.batch * s.out_channels * out_size), 0.0);
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (std::int64_t oc = 0; oc < s.out_channels; ++oc) {
      const double b = bias ? (*bias)[static_cast<std::size_t>(oc)] : 0.0;
      for (std::int64_t op = 0; op < out_size; ++op) {
        y[static_cast<std::size_t>((n * s.out_channels + oc) * out_size + op)] =
            absolute ? std::fabs(b) : b;
      }
    }
  }
  std::array<std::int64_t, 3> p{}, k{};
  for (std::int64_t n = 0; n < s.batch; ++n) {
    for (std::int64_t i = 0; i < s.in_channels; ++i) {
      const std::int64_t g = i / in_per_group;
      for (std::int64_t ip = 0; ip < in_size; ++ip) {
        unravel(ip, s.input, p);
        const double xv = x[static_cast<std::size_t>((n * s.in_channels + i) * in_size + ip)];
        for (std::int64_t j = 0; j < out_per_group; ++j) {
          const std::int64_t oc = g * out_per_group + j;
          for (std::int64_t kp = 0; kp < k_size; ++kp) {
            unravel(kp, s.kernel, k);
            std::int64_t opos = 0;
            bool inside = true;
            for (std::size_t d = 0; d < s.spatial(); ++d) {
              const std::int64_t at = p[d] * s.stride[d] - s.pad_begin[d] + k[d] * s.dilation[d];
              inside = inside && at >= 0 && at < out[d];
              opos = opos * out[d] + at;
            }
            if (!inside) continue;
            const double wv = w[static_cast<std::size_t>((i * out_per_group + j) * k_size + kp)];
            y[static_cast<std::size_t>((n * s.out_channels + oc) * out_size + opos)] +=
                absolute ? std::fabs(wv * xv) : wv * xv;
          }
        }
      }
    }
  }
  return y;
}

/// y[n, o] = b[o] + sum_i W(o, i) x[n, i]; W stored [out, in], or [in, out] when in_out.
inline std::vector<double> linear(std::int64_t batch, std::int64_t in, std::int64_t out,
                                  const std::vector<double>& x, const std::vector<double>& w,
                                  const std::vector<double>* bias, bool in_out,
                                  bool absolute = false) {
  std::vector<double> y(static_cast<std::size_t>(batch * out));
  for (std::int64_t n = 0; n < batch; ++n) {
    for (std::int64_t o = 0; o < out; ++o) {
      double acc = bias ? (absolute ? std::fabs((*bias)[static_cast<std::size_t>(o)])
                                    : (*bias)[static_cast<std::size_t>(o)])
                        : 0.0;
      for (std::int64_t i = 0; i < in; ++i) {
        const double wv = w[static_cast<std::size_t>(in_out ? i * out + o : o * in + i)];
        const double xv = x[static_cast<std::size_t>(n * in + i)];
        acc += absolute ? std::fabs(wv * xv) : wv * xv;
      }
      y[static_cast<std::size_t>(n * out + o)] = acc;
    }
  }
  return y;
}

/// Eval-mode batch norm over channels-first data (channel dim 1, `inner` values per plane),
/// from the definition.
inline std::vector<double> batch_norm_nc(const std::vector<double>& x, std::int64_t channels,
                                         std::int64_t inner, const std::vector<double>& mean,
                                         const std::vector<double>& var,
                                         const std::vector<double>& gamma,
                                         const std::vector<double>& beta, double eps) {
  std::vector<double> y(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t c =
        (i / static_cast<std::size_t>(inner)) % static_cast<std::size_t>(channels);
    y[i] = (x[i] - mean[c]) / std::sqrt(var[c] + eps) * gamma[c] + beta[c];
  }
  return y;
}

}  // namespace bnrt::reference
