// ConvBnAct::run: check the tensors, then per image cut the output into tiles and hand them to
// the kernel chosen at create, over oneTBB. Every output element is computed by one kernel
// call in one fixed order, so results are bitwise identical for any thread count.
#include <algorithm>
#include <atomic>
#include <string>

#include "bnrt/conv_bn_act.hpp"
#include "conv_state.hpp"
#include "errors.hpp"
#include "parallel.hpp"
#include "tensor_checks.hpp"

namespace bnrt {
namespace {

constexpr std::string_view kOp = "conv_bn_act";
/// Below this many multiply-adds a task is not worth spawning (a few microseconds of work).
constexpr std::size_t kMinMacsPerChunk = std::size_t{1} << 18;

std::size_t chunk_count(std::size_t units, std::size_t macs, int max_threads) {
  const std::size_t by_work = std::max<std::size_t>(1, macs / kMinMacsPerChunk);
  if (by_work < 2 || units < 2) return 1;
  const auto threads = static_cast<std::size_t>(detail::usable_threads(max_threads));
  return std::min({threads, units, by_work});
}

/// dims in the layout's order -> (n, c, h, w).
struct Dims4 {
  std::int64_t n, c, h, w;
};
Dims4 dims_of(const ConstTensor& t) {
  if (t.layout == Layout::nhwc) return {t.dims[0], t.dims[3], t.dims[1], t.dims[2]};
  return {t.dims[0], t.dims[1], t.dims[2], t.dims[3]};
}

std::string dims_text(std::int64_t c, std::int64_t h, std::int64_t w, Layout layout) {
  const auto s = [](std::int64_t v) { return std::to_string(v); };
  return layout == Layout::nhwc ? "{N, " + s(h) + ", " + s(w) + ", " + s(c) + "}"
                                : "{N, " + s(c) + ", " + s(h) + ", " + s(w) + "}";
}

void check_dims(std::string_view name, const ConstTensor& t, Layout layout, std::int64_t c,
                std::int64_t h, std::int64_t w) {
  if (t.layout != layout) {
    detail::fail(ErrorCode::shape_mismatch, kOp,
                 std::string(name) + " layout is " + std::string(layout_name(t.layout)) +
                     " but the op was created for " + std::string(layout_name(layout)));
  }
  detail::check_tensor(kOp, name, t, static_cast<std::size_t>(c));
  const Dims4 d = dims_of(t);
  if (d.h != h || d.w != w) {
    detail::fail(ErrorCode::shape_mismatch, kOp,
                 std::string(name) + " is " + detail::describe_shape(t) + " but the op needs " +
                     dims_text(c, h, w, layout));
  }
}

bool ranges_overlap(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  const auto pa = reinterpret_cast<std::uintptr_t>(a), pb = reinterpret_cast<std::uintptr_t>(b);
  return a_bytes != 0 && b_bytes != 0 && pa < pb + b_bytes && pb < pa + a_bytes;
}

/// NCHW image [C][H*W] -> NHWC [H*W][dst_stride] with the ISA's transpose kernel, split by
/// pixels.
void transpose_to_nhwc(const kernels::ConvKernelTable& k, const float* src, float* dst,
                       std::size_t channels, std::size_t pixels, std::size_t dst_stride,
                       int max_threads) {
  // Each element costs about as much as a few multiply-adds (a strided load, shuffles, a
  // store), so weigh the elements accordingly: a 1024 x 14 x 14 image is worth two threads.
  constexpr std::size_t kMacsPerElement = 8;
  constexpr std::size_t kPixelBlock = 16;  // whole tiles per thread, for the kernel
  const std::size_t blocks = (pixels + kPixelBlock - 1) / kPixelBlock;
  const std::size_t chunks = chunk_count(blocks, channels * pixels * kMacsPerElement, max_threads);
  detail::parallel_ranges(blocks, chunks, 1, 0, [&](std::size_t begin, std::size_t end) {
    k.transpose_to_nhwc(src, dst, channels, pixels, dst_stride, begin * kPixelBlock,
                        std::min(pixels, end * kPixelBlock));
  });
}

/// Output addressing of one image: element (pixel p, channel c) at p * pixel + c * channel.
struct ImageOutput {
  float* dst;
  const float* residual;
  std::size_t pixel_stride, channel_stride;

  kernels::TileOutput at(std::size_t pixel, std::size_t channel,
                         const kernels::ConvEpilogue* epilogue) const {
    const std::size_t offset = pixel * pixel_stride + channel * channel_stride;
    return {dst + offset, residual ? residual + offset : nullptr, pixel_stride, channel_stride,
            epilogue};
  }
};

void run_gemm(const detail::ConvBnActState& s, const float* image, const ImageOutput& out) {
  const kernels::ConvKernelTable& k = *s.kernels;
  const std::size_t mr = k.gemm_rows;
  const std::size_t pixels = s.out_h * s.out_w;
  const std::size_t tiles = (pixels + mr - 1) / mr;
  const std::size_t blocks_per_group = s.gemm_blocks.size();
  const std::size_t units = static_cast<std::size_t>(s.desc.groups) * blocks_per_group * tiles;
  const std::size_t chunks =
      chunk_count(units, static_cast<std::size_t>(s.macs_per_image), s.options.max_threads);
  // Units run block-major: one block of packed weights stays in cache while the tiles of
  // pixels stream past it; two threads split the blocks (or a block's tiles) between them.
  // With several blocks of small weights, tile-major instead (see pack_gemm).
  const std::size_t all_blocks = static_cast<std::size_t>(s.desc.groups) * blocks_per_group;
  detail::parallel_ranges(units, chunks, 1, 0, [&](std::size_t begin, std::size_t end) {
    kernels::GemmTileArgs a;
    a.geometry = &s.geometry;
    a.zero_row = s.zero_row.data();
    a.k_per_tap = s.in_per_group;
    for (std::size_t u = begin; u < end; ++u) {
      const std::size_t block_index = s.gemm_tile_major ? u % all_blocks : u / tiles;
      const std::size_t tile = s.gemm_tile_major ? u / all_blocks : u % tiles;
      const std::size_t group = block_index / blocks_per_group;
      const auto& block = s.gemm_blocks[block_index % blocks_per_group];
      a.image = image + group * s.in_per_group;
      a.weights = s.packed_weights.data() + group * s.group_weight_floats + block.weight_offset;
      a.bias = s.packed_bias.data() + group * s.group_bias_floats + block.bias_offset;
      a.pixel_begin = tile * mr;
      a.rows = std::min(mr, pixels - a.pixel_begin);
      a.cols = block.cols;
      a.out = out.at(a.pixel_begin, group * s.out_per_group + block.first_channel, &s.epilogue);
      k.gemm[block.vectors - 1](a);
    }
  });
}

void run_depthwise(const detail::ConvBnActState& s, const float* image, const ImageOutput& out) {
  const kernels::ConvKernelTable& k = *s.kernels;
  const std::size_t chunks =
      chunk_count(s.out_h, static_cast<std::size_t>(s.macs_per_image), s.options.max_threads);
  // Even chunk boundaries keep the kernel's row pairs (see conv_depthwise_impl.hpp) whole.
  detail::parallel_ranges(s.out_h, chunks, 2, 0, [&](std::size_t begin, std::size_t end) {
    kernels::DepthwiseRowArgs a;
    a.geometry = &s.geometry;
    a.image = image;
    a.weights = s.packed_weights.data();
    a.weight_tap_stride = s.padded_channels;
    a.bias = s.packed_bias.data();
    a.out_row = begin;
    a.out_rows = end - begin;
    a.out = out.at(begin * s.out_w, 0, &s.epilogue);
    k.depthwise(a);
  });
}

/// 1x1 on channels-first tensors: tiles of output channels x pixels, channel tiles innermost
/// so a tile of pixels (all input channels) stays in L2 while every weight row passes over it.
void run_planar_gemm(const detail::ConvBnActState& s, const float* image, const ImageOutput& out) {
  const kernels::ConvKernelTable& k = *s.kernels;
  const std::size_t mr = k.gemm_rows, width = k.planar_gemm_vectors * k.lanes;
  const std::size_t plane = s.out_h * s.out_w;
  const std::size_t pixel_tiles = (plane + width - 1) / width;
  const std::size_t channel_tiles = (s.out_per_group + mr - 1) / mr;
  const std::size_t groups = static_cast<std::size_t>(s.desc.groups);
  const std::size_t units = groups * pixel_tiles * channel_tiles;
  const std::size_t chunks =
      chunk_count(units, static_cast<std::size_t>(s.macs_per_image), s.options.max_threads);
  detail::parallel_ranges(units, chunks, 1, 0, [&](std::size_t begin, std::size_t end) {
    kernels::PlanarGemmTileArgs a;
    a.plane_stride = plane;
    a.k_count = s.in_per_group;
    for (std::size_t u = begin; u < end; ++u) {
      const std::size_t group = u / (pixel_tiles * channel_tiles);
      const std::size_t pixel0 = u / channel_tiles % pixel_tiles * width;
      const std::size_t tile = group * channel_tiles + u % channel_tiles;
      const std::size_t channel = group * s.out_per_group + u % channel_tiles * mr;
      a.weights = s.packed_weights.data() + tile * mr * s.in_per_group;
      a.bias = s.packed_bias.data() + tile * mr;
      a.input = image + group * s.in_per_group * plane + pixel0;
      a.rows = std::min(mr, (group + 1) * s.out_per_group - channel);
      a.cols = std::min(width, plane - pixel0);
      const std::size_t offset = channel * plane + pixel0;
      a.out = {out.dst + offset, out.residual ? out.residual + offset : nullptr, plane, 1,
               &s.epilogue};
      k.planar_gemm(a);
    }
  });
}

/// Depthwise on channels-first tensors: one task per run of channels, each with its own
/// scratch plane (claimed in arrival order; the result does not depend on which).
void run_depthwise_planar(const detail::ConvBnActState& s, const float* image,
                          const ImageOutput& out, detail::ConvScratch& scratch) {
  const kernels::ConvKernelTable& k = *s.kernels;
  const auto channels = static_cast<std::size_t>(s.desc.out_channels);
  const std::size_t in_plane = s.geometry.in_h * s.geometry.in_w;
  const std::size_t chunks = std::min(
      scratch.plane_slots,
      chunk_count(channels, static_cast<std::size_t>(s.macs_per_image), s.options.max_threads));
  std::atomic<std::size_t> next_slot{0};
  detail::parallel_ranges(channels, chunks, 1, 0, [&](std::size_t begin, std::size_t end) {
    kernels::DepthwisePlaneArgs a;
    a.geometry = &s.geometry;
    // (No buffer when the kernel reads the input directly; see ConvBnAct's constructor.)
    const std::size_t slot = next_slot.fetch_add(1);
    a.padded = scratch.padded_planes.size() == 0
                   ? nullptr
                   : scratch.padded_planes.data() + slot * s.plane_floats();
    a.padded_rows = s.plane_rows;
    a.phase_cols = s.plane_phase_cols;
    a.out_h = s.out_h;
    a.epilogue = &s.epilogue;
    for (std::size_t c = begin; c < end; ++c) {
      a.src = image + c * in_plane;
      a.weights = s.folded_weight.data() + c * s.taps;
      a.bias = s.folded_bias[c];
      const kernels::TileOutput plane = out.at(0, c, &s.epilogue);
      a.dst = plane.dst;
      a.residual = plane.residual;
      k.depthwise_plane(a);
    }
  });
}

}  // namespace

void ConvBnAct::run(ConstTensor src, MutableTensor dst) { run_checked(src, nullptr, dst); }

void ConvBnAct::run(ConstTensor src, ConstTensor residual, MutableTensor dst) {
  run_checked(src, &residual, dst);
}

void ConvBnAct::run_checked(ConstTensor src, const ConstTensor* residual, MutableTensor dst) {
  const detail::ConvBnActState& s = *state_;
  const Conv2dDesc& d = s.desc;
  const Layout layout = s.options.layout;
  if (s.options.residual && residual == nullptr) {
    detail::fail(ErrorCode::invalid_argument, kOp,
                 "the op was created with residual = true; pass the residual tensor");
  }
  if (!s.options.residual && residual != nullptr) {
    detail::fail(ErrorCode::invalid_argument, kOp,
                 "the op was created with residual = false but a residual tensor was passed");
  }
  check_dims("src", src, layout, d.in_channels, d.input_h, d.input_w);
  check_dims("dst", dst, layout, d.out_channels, static_cast<std::int64_t>(s.out_h),
             static_cast<std::int64_t>(s.out_w));
  const std::int64_t batch = src.dims[0];
  if (dst.dims[0] != batch) {
    detail::fail(ErrorCode::shape_mismatch, kOp,
                 "dst batch " + std::to_string(dst.dims[0]) + " differs from src batch " +
                     std::to_string(batch));
  }
  const std::size_t in_image = static_cast<std::size_t>(d.in_channels * d.input_h * d.input_w);
  const std::size_t out_image = static_cast<std::size_t>(d.out_channels) * s.out_h * s.out_w;
  const std::size_t n = static_cast<std::size_t>(batch);
  if (ranges_overlap(src.data, n * in_image * sizeof(float), dst.data,
                     n * out_image * sizeof(float))) {
    detail::fail(ErrorCode::overlap, kOp, "dst overlaps src (a convolution cannot run in place)");
  }
  if (residual != nullptr) {
    detail::check_tensor(kOp, "residual", *residual, static_cast<std::size_t>(d.out_channels));
    detail::check_same_shape(kOp, "dst", dst, "residual", *residual);
    detail::check_no_partial_overlap(kOp, "dst", dst.data, "residual", residual->data,
                                     n * out_image * sizeof(float));
  }

  const std::size_t pixels_out = s.out_h * s.out_w;
  for (std::size_t i = 0; i < n; ++i) {
    const float* image = src.data + i * in_image;
    if (layout == Layout::nchw && !s.planar_depthwise && !s.planar_gemm) {
      transpose_to_nhwc(*s.kernels, image, scratch_->nhwc_image.data(),
                        static_cast<std::size_t>(d.in_channels),
                        static_cast<std::size_t>(d.input_h * d.input_w), s.geometry.in_pixel_stride,
                        s.options.max_threads);
      image = scratch_->nhwc_image.data();
    }
    ImageOutput out{dst.data + i * out_image,
                    residual != nullptr ? residual->data + i * out_image : nullptr,
                    layout == Layout::nhwc ? static_cast<std::size_t>(d.out_channels) : 1,
                    layout == Layout::nhwc ? 1 : pixels_out};
    if (s.planar_depthwise) {
      run_depthwise_planar(s, image, out, *scratch_);
    } else if (s.planar_gemm) {
      run_planar_gemm(s, image, out);
    } else if (s.algorithm == ConvAlgorithm::depthwise) {
      run_depthwise(s, image, out);
    } else {
      run_gemm(s, image, out);
    }
  }
}

}  // namespace bnrt
