// Registration of the batch-norm ladder with Google Benchmark (see batch_norm_cases.hpp).
#include "batch_norm_cases.hpp"

#include <benchmark/benchmark.h>
#include <tbb/task_arena.h>

#include "interleaved_timer.hpp"
#include "shapes.hpp"

namespace bnrt::bench {
namespace {

std::vector<std::int64_t> feature_map_dims(std::int64_t batch, const FeatureMap& map,
                                           Layout layout) {
  if (layout_is_channels_last(layout)) return {batch, map.height, map.width, map.channels};
  return {batch, map.channels, map.height, map.width};
}

/// Values each channel's batch statistics are taken over: the element count over the channels.
std::int64_t values_per_channel(const std::vector<std::int64_t>& dims, Layout layout) {
  std::int64_t elements = 1;
  for (std::int64_t d : dims) elements *= d;
  return elements / dims[layout_channel_axis(layout)];
}

void add_group(std::vector<BatchNormCase>& cases, const std::vector<std::int64_t>& dims,
               Layout layout, int threads, const std::vector<Op>& ops) {
  cases.push_back({dims, layout, threads, Impl::memcpy, Op::eval});
  for (Op op : ops) {
    // Training mode rejects one value per channel (as PyTorch does), e.g. the (1, 512) row.
    if (op != Op::eval && values_per_channel(dims, layout) < 2) continue;
    for (Impl impl : {Impl::bnrt, Impl::naive, Impl::onednn}) {
      if (impl == Impl::naive && threads != 1) continue;  // the naive loop is single-threaded
      if (!impl_available(impl, op)) continue;
      cases.push_back({dims, layout, threads, impl, op});
    }
  }
}

/// Google Benchmark calls a benchmark function several times (to size the iteration count,
/// then once per repetition); building a runner allocates and fills up to ~200 MB, so the
/// most recent one is kept for the next call of the same case.
Runner* cached_runner(const BatchNormCase& c) {
  static std::string cached_name;
  static std::unique_ptr<Runner> cached;
  const std::string name = benchmark_name(c);
  if (name != cached_name) {
    cached.reset();  // free the previous case's buffers first
    cached = make_runner(c, make_case_data(c));
    cached_name = name;
  }
  return cached.get();
}

void run_case(benchmark::State& state, const BatchNormCase& c) {
  Runner* runner = cached_runner(c);
  if (runner == nullptr) {
    state.SkipWithError("implementation not available for this layout");
    return;
  }
  tbb::task_arena arena(c.threads);
  arena.execute([&] {
    for (auto _ : state) runner->run();
  });
  runner->settle();
  state.SetBytesProcessed(state.iterations() * c.bytes());
}

/// A shape given as (N, C, spatial...) in the layout of its rank: channels-last moves C to the
/// end; (N, C) is `nc` either way.
std::pair<std::vector<std::int64_t>, Layout> shape_in_layout(std::vector<std::int64_t> dims,
                                                             bool channels_last) {
  constexpr Layout kFirst[] = {Layout::nc, Layout::ncl, Layout::nchw, Layout::ncdhw};
  constexpr Layout kLast[] = {Layout::nc, Layout::nlc, Layout::nhwc, Layout::ndhwc};
  const std::size_t rank_index = dims.size() - 2;
  if (channels_last && dims.size() > 2) {
    const std::int64_t channels = dims[1];
    dims.erase(dims.begin() + 1);
    dims.push_back(channels);
  }
  return {dims, (channels_last ? kLast : kFirst)[rank_index]};
}

}  // namespace

std::vector<BatchNormCase> batch_norm_ladder(const LadderOptions& options) {
  std::vector<BatchNormCase> cases;
  if (!options.shapes.empty()) {
    for (int threads : options.threads) {
      for (const auto& shape : options.shapes) {
        bool measured_nc = false;  // (N, C) once, whichever layouts were asked for
        for (Layout family : options.layouts) {
          if (shape.size() == 2 && measured_nc) continue;
          measured_nc = true;
          const auto [dims, layout] = shape_in_layout(shape, layout_is_channels_last(family));
          add_group(cases, dims, layout, threads, options.ops);
        }
      }
    }
    return cases;
  }
  for (int threads : options.threads) {
    if (options.resnet50) {
      for (std::int64_t batch : options.batches) {
        for (const FeatureMap& map : kResNet50BatchNorms) {
          for (Layout layout : options.layouts) {
            add_group(cases, feature_map_dims(batch, map, layout), layout, threads, options.ops);
          }
        }
      }
    }
    if (options.tiny) {
      for (const FeatureMap& map : kTinyFeatureMaps) {
        for (Layout layout : options.layouts) {
          add_group(cases, feature_map_dims(1, map, layout), layout, threads, options.ops);
        }
      }
      for (const Rows& rows : kRowShapes)
        add_group(cases, {rows.rows, rows.channels}, Layout::nc, threads, options.ops);
    }
  }
  return cases;
}

std::string benchmark_name(const BatchNormCase& c) {
  return "batch_norm/" + std::string(op_name(c.op)) + "/" + std::string(impl_name(c.impl)) + "/" +
         std::string(layout_name(c.layout)) + "/" + c.shape_text() +
         "/threads:" + std::to_string(c.threads);
}

void register_batch_norm_benchmarks(const std::vector<BatchNormCase>& cases, double min_time,
                                    int repetitions) {
  for (const BatchNormCase& c : cases) settle_task_threshold(c.threads);
  for (const BatchNormCase& c : cases) {
    auto* b = benchmark::RegisterBenchmark(benchmark_name(c).c_str(),
                                           [c](benchmark::State& state) { run_case(state, c); });
    b->UseRealTime()->Unit(benchmark::kMicrosecond)->MinTime(min_time);
    if (repetitions > 1) b->Repetitions(repetitions)->ReportAggregatesOnly(true);
  }
}

}  // namespace bnrt::bench
