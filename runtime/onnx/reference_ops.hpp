// Float64 reference implementations of the ONNX ops `bnrt fold --verify` evaluates: written
// from the ONNX operator definitions for clarity, not speed (the conv loops only skip
// out-of-range taps and split work over output channels).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace bnrt::onnx::detail {

/// A dense float64 tensor, row-major (dims outermost first; no dims = a scalar).
struct Tensor64 {
  std::vector<std::int64_t> dims;
  std::vector<double> values;

  std::int64_t dim(std::size_t i) const { return dims[i]; }
  std::size_t rank() const { return dims.size(); }
};

std::int64_t product(const std::vector<std::int64_t>& dims, std::size_t from = 0,
                     std::size_t to = SIZE_MAX);

/// Tensors larger than this are not evaluated (1 GiB of doubles): verification of a model with
/// such activations is skipped rather than exhausting memory.
inline constexpr std::int64_t kMaxEvaluatedElements = std::int64_t{1} << 27;

/// The element count of `dims`; throws Error(unsupported) when a dim is negative or the count
/// exceeds kMaxEvaluatedElements.
std::int64_t checked_count(const std::vector<std::int64_t>& dims);

/// Convolution geometry per spatial dim (1 to 3 of them).
struct ConvGeometry {
  std::int64_t group = 1;
  std::vector<std::int64_t> strides, dilations, pads_begin, pads_end;
  std::vector<std::int64_t> output;  ///< output spatial size
};

/// y = conv(x, w) + b; x [N, C, spatial...], w [OC, C/group, k...], b [OC] or empty.
Tensor64 conv(const Tensor64& x, const Tensor64& w, const std::vector<double>& b,
              const ConvGeometry& g);
/// Transposed convolution; w [C, OC/group, k...]; every input position scatters into output
/// position i * stride - pad_begin + k * dilation.
Tensor64 conv_transpose(const Tensor64& x, const Tensor64& w, const std::vector<double>& b,
                        const ConvGeometry& g);

/// alpha * op(A) op(B) + beta * C, C broadcast to [M, N] (C may be empty).
Tensor64 gemm(const Tensor64& a, const Tensor64& b, const Tensor64* c, double alpha, double beta,
              bool trans_a, bool trans_b);
/// numpy.matmul: 1-D operands promoted, batch dims broadcast.
Tensor64 matmul(const Tensor64& a, const Tensor64& b);

/// Elementwise binary op with numpy broadcasting.
Tensor64 broadcast(const Tensor64& a, const Tensor64& b,
                   const std::function<double(double, double)>& op);
Tensor64 map(const Tensor64& x, const std::function<double(double)>& op);

/// Per-channel (dim 1) y = (x - mean) / sqrt(var + eps) * scale + bias.
Tensor64 batch_norm(const Tensor64& x, const std::vector<double>& scale,
                    const std::vector<double>& bias, const std::vector<double>& mean,
                    const std::vector<double>& var, double eps);

/// Pooling over spatial dims; average counts padding when count_include_pad.
struct PoolGeometry {
  std::vector<std::int64_t> kernel, strides, dilations, pads_begin, pads_end, output;
  bool count_include_pad = false;
};
Tensor64 max_pool(const Tensor64& x, const PoolGeometry& g);
Tensor64 average_pool(const Tensor64& x, const PoolGeometry& g);
Tensor64 global_pool(const Tensor64& x, bool max);

Tensor64 concat(const std::vector<const Tensor64*>& inputs, std::int64_t axis);
/// Pad in constant mode: dim d grows by begin[d] in front and end[d] behind (negative: crops).
Tensor64 pad_constant(const Tensor64& x, const std::vector<std::int64_t>& begin,
                      const std::vector<std::int64_t>& end, double value);
/// y[..] = x[..] with dims permuted: y.dims[i] = x.dims[perm[i]].
Tensor64 transpose(const Tensor64& x, const std::vector<std::int64_t>& perm);
/// numpy.take(data, indices, axis): indices already non-negative and in range.
Tensor64 gather(const Tensor64& data, const Tensor64& indices, std::int64_t axis);
/// data[starts[i] : ends[i] : steps[i]] along axes[i], the bounds already clamped as ONNX Slice
/// clamps them (so each axis yields max(0, ceil((end - start) / step)) values).
Tensor64 slice(const Tensor64& data, const std::vector<std::int64_t>& starts,
               const std::vector<std::int64_t>& ends, const std::vector<std::int64_t>& axes,
               const std::vector<std::int64_t>& steps);
/// Reduces the dims in `axes` (sorted, distinct) with `op` from `start`, then divides by the
/// count when `mean`; kept as 1s with keep_dims.
Tensor64 reduce(const Tensor64& x, const std::vector<std::int64_t>& axes, bool keep_dims,
                double start, const std::function<double(double, double)>& op, bool mean);
/// Softmax over dims [axis, rank) taken as one (opset < 13) or over `axis` alone.
Tensor64 softmax(const Tensor64& x, std::int64_t axis, bool flatten_tail);

}  // namespace bnrt::onnx::detail
